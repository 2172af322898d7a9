from benchmarks.markdown import emit


def test_emit_prints_and_writes_the_same_text(tmp_path, capsys):
    out = tmp_path / "r.md"
    text = emit(["# title", "", "| a |", "|---|"], out)
    assert text == "# title\n\n| a |\n|---|\n"
    assert out.read_text() == text
    assert capsys.readouterr().out == text + "\n"


def test_emit_without_a_file_only_prints(tmp_path, capsys):
    assert emit(["x"], None) == "x\n"
    assert capsys.readouterr().out == "x\n\n"
    assert list(tmp_path.iterdir()) == []
