"""``gp-autoloss show`` and ``render``: as real subprocesses, and the whole bad-input matrix through ``main``."""

from __future__ import annotations

import pytest

from gp_autoloss import known_loss, parse
from gp_autoloss.cli.main import EXIT_BAD_INPUT, main
from tests.conftest import start_cli

HUGE = "(" * 5000 + "i" + ")" * 5000


def _assert_bad_input(rc: int, out: str, err: str) -> None:
    """Exit 2, nothing on stdout, exactly one line on stderr, no traceback."""
    assert rc == EXIT_BAD_INPUT, (rc, out, err)
    assert out == ""
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gp-autoloss") and "error" in lines[0]
    assert "Traceback" not in err


# ---- subprocesses (started together: each one pays for importing torch) -------------------------------------


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """Run the subprocess cases at once; ``cli[name]`` is ``(returncode, stdout, stderr, workdir)``.

    Each subprocess pays for importing torch, so only a few representative cases run this way; the whole
    bad-input matrix goes through the same ``main`` in process below.
    """
    work = tmp_path_factory.mktemp("cli")
    empty_bin = work / "empty_bin"
    empty_bin.mkdir()
    cases = {
        "show_known": (["show", "cse_b_cls"], None),
        "render_png_no_graphviz": (["render", "cse_b_cls", "-o", str(work / "b.png")], {"PATH": str(empty_bin)}),
        "injection": (["show", f"__import__('os').system('touch {work / 'pwned'}')", "--space", "iou_reg"], None),
        "render_missing_dir": (["render", "cse_a_cls", "-o", str(work / "missing" / "a.svg")], None),
        "closed_stdout": (["show", "cse_b_cls"], None),
    }
    procs = {name: start_cli(*args, env=env) for name, (args, env) in cases.items()}
    # The reader of "closed_stdout" leaves before the child has had time to import torch and print.
    procs["closed_stdout"].stdout.close()
    results = {}
    for name, proc in procs.items():
        if name == "closed_stdout":
            err = proc.stderr.read()
            proc.wait(timeout=300)
            results[name] = (proc.returncode, "", err, work)
        else:
            out, err = proc.communicate(timeout=300)
            results[name] = (proc.returncode, out, err, work)
    return results


def _show_fields(stdout: str) -> dict[str, str]:
    return {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in stdout.splitlines()}


def test_show_a_known_loss(cli):
    rc, out, err, _ = cli["show_known"]
    assert rc == 0 and err == ""
    fields = _show_fields(out)
    loss = known_loss("cse_b_cls")
    assert fields["space"] == "sigmoid_cls"
    assert parse(fields["infix"], "sigmoid_cls") == loss and fields["infix"] == str(loss)
    assert parse(fields["prefix"], "sigmoid_cls") == loss and fields["prefix"] == loss.to_prefix()
    assert fields["type"] == "Scalar"
    dag_nodes = loss.to_networkx().number_of_nodes() - 1
    assert fields["size"] == f"{loss.size} nodes, depth {loss.depth}, {dag_nodes} DAG nodes"


def test_render_png_without_graphviz_writes_dot_and_says_so(cli):
    rc, out, err, work = cli["render_png_no_graphviz"]
    assert rc == 0 and err == ""
    assert out.splitlines()[0] == f"wrote {work / 'b.dot'}" and "install graphviz" in out
    assert (work / "b.dot").read_text().startswith("digraph loss {")
    assert not (work / "b.png").exists()


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("injection", "unexpected character"),
        ("render_missing_dir", "does not exist"),
    ],
)
def test_bad_input_subprocess(cli, case, words):
    rc, out, err, work = cli[case]
    _assert_bad_input(rc, out, err)
    assert words in err
    assert not (work / "pwned").exists() and not (work / "missing").exists()
    assert sorted(p.name for p in work.iterdir()) == ["b.dot", "empty_bin"]


def test_closed_stdout_is_not_a_traceback(cli):
    """``gp-autoloss show ... | head -1``: the reader leaves early; the CLI stops quietly."""
    rc, _, err, _ = cli["closed_stdout"]
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert rc != 0


# ---- the bad-input matrix, in process ------------------------------------------------------------------------

BAD_ARGV = [
    ["show", "log(i", "--space", "iou_reg"],
    ["show", "2 i", "--space", "iou_reg"],
    ["show", "i $ u", "--space", "iou_reg"],
    ["show", "", "--space", "iou_reg"],
    ["show", "f(i)", "--space", "iou_reg"],
    ["show", "log(i, u)", "--space", "iou_reg"],
    ["show", "dot(w, y)", "--space", "softmax_cls"],
    ["show", "softmax(x)", "--space", "softmax_cls"],
    ["show", "4 * i + 1e400", "--space", "iou_reg"],
    ["show", "i + u\n+ e $", "--space", "iou_reg"],  # a newline in the formula still gives one line
    ["show", "i", "--space", "nope"],
    ["show", "1 - i / u"],  # not a known loss name: needs --space
    ["show", "ce", "--space", "iou_reg"],  # a known loss of another space is just an unknown name there
    ["show", "__import__('os').system('touch {tmp}/pwned')", "--space", "iou_reg"],
    ["show", "i" + "+i" * 5000, "--space", "iou_reg"],
    ["show", HUGE, "--space", "iou_reg"],
    ["render", "cse_a_cls", "-o", "{tmp}/missing/a.svg"],
    ["render", "cse_a_cls", "-o", "{tmp}/plain.txt/a.svg"],
    ["render", "cse_a_cls", "-o", "{tmp}/a.jpg"],
    ["render", "cse_a_cls", "-o", "/proc/gp_autoloss_test.svg"],
    ["render", "cse_a_cls"],
    ["render", "dot(w, y)", "--space", "softmax_cls", "-o", "{tmp}/a.svg"],
    ["show"],
    ["show", "ce", "--bogus"],
    ["frobnicate"],
]


@pytest.mark.parametrize("argv", BAD_ARGV, ids=[" ".join(a)[:40] for a in BAD_ARGV])
def test_bad_input_in_process(argv, tmp_path, capsys):
    (tmp_path / "plain.txt").write_text("x")
    before = set(tmp_path.rglob("*"))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own errors
        rc = exc.code
    captured = capsys.readouterr()
    _assert_bad_input(rc, captured.out, captured.err)
    assert set(tmp_path.rglob("*")) == before


def test_show_and_render_in_process(tmp_path, capsys):
    assert main(["show", "-dot(w * y, log(softmax(x)))", "--space", "softmax_cls"]) == 0
    out = capsys.readouterr().out
    assert "prefix: neg(dot(mul(w, y), log(softmax(x))))" in out
    assert main(["show", "--space", "iou_reg", "--", "-i/u"]) == 0  # a formula that looks like an option
    assert "infix:  (-i) / u" in capsys.readouterr().out
    assert main(["render", "giou", "-o", str(tmp_path / "g.dot"), "--title", "GIoU"]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'g.dot'}\n"
    assert 'label="GIoU"' in (tmp_path / "g.dot").read_text()
    assert main(["render", "-dot((1 + sin(w)) * y, log(softmax(x)))", "-s", "softmax_cls", "-o",
                 str(tmp_path / "a.svg")]) == 0
    assert (tmp_path / "a.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("gp-autoloss ")
