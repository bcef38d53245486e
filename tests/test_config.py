"""[tool.transpiler] and [tool.black] in pyproject.toml, as the command line finds and applies them."""

from __future__ import annotations

from pathlib import Path

from test_cli import TF_SOURCE, TORCH_EXPECTED, run

TORCH_SOURCE = "import torch\n\nx = torch.sum(torch.ones([2, 3]), dim=1)\n"
EXPM_RULE = 'direction = "tf_to_torch"\n\n[[rule]]\nsource = "tensorflow.linalg.expm"\ntarget = "torch.linalg.matrix_exp"\n'


def project(root: Path, config: str) -> Path:
    (root / ".git").mkdir(parents=True)  # the search stops at a repository root
    (root / "pyproject.toml").write_text(config)
    (root / "pkg" / "sub").mkdir(parents=True)
    return root


def test_found_by_walking_up_from_the_paths(tmp_path):
    root = project(tmp_path / "repo", '[tool.transpiler]\nto = "torch"\n')
    f = root / "pkg" / "sub" / "m.py"
    f.write_text(TORCH_SOURCE)
    # (without the config a PyTorch file converts to TensorFlow: see the next test)
    proc = run("convert", f, "--check", cwd=tmp_path)  # from outside the project
    assert proc.returncode == 0, proc.stdout
    proc = run("convert", "m.py", "--check", cwd=root / "pkg" / "sub")  # from inside it
    assert proc.returncode == 0, proc.stdout
    g = root / "pkg" / "tf.py"
    g.write_text(TF_SOURCE)
    assert run("convert", g, cwd=tmp_path).stdout == TORCH_EXPECTED


def test_without_config_each_file_converts_to_the_other_framework(tmp_path):
    (tmp_path / ".git").mkdir()
    f = tmp_path / "m.py"
    f.write_text(TORCH_SOURCE)
    proc = run("convert", f, "--check")
    assert proc.returncode == 1  # it would be converted to TensorFlow


def test_search_stops_at_the_repository_root(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.transpiler]\nto = "torch"\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    f = repo / "m.py"
    f.write_text(TORCH_SOURCE)
    assert run("convert", f, "--check").returncode == 1  # the pyproject above the repository is not used


def test_a_pyproject_without_the_table_is_passed_over(tmp_path):
    root = project(tmp_path / "repo", '[tool.transpiler]\nto = "torch"\n')
    (root / "pkg" / "pyproject.toml").write_text('[tool.black]\nline-length = 100\n')
    f = root / "pkg" / "m.py"
    f.write_text(TORCH_SOURCE)
    assert run("convert", f, "--check").returncode == 0


def test_command_line_overrides_the_config(tmp_path):
    root = project(tmp_path / "repo", '[tool.transpiler]\nto = "torch"\n')
    f = root / "pkg" / "m.py"
    f.write_text(TORCH_SOURCE)
    proc = run("convert", f, "--to", "tf")
    assert proc.returncode == 0
    assert proc.stdout == "import tensorflow as tf\n\nx = tf.math.reduce_sum(tf.ones([2, 3]), axis=1)\n"


def test_rules_are_relative_to_the_config_file(tmp_path):
    root = project(tmp_path / "repo", '[tool.transpiler]\nto = "torch"\nrules = ["tools/ours.toml"]\n')
    (root / "tools").mkdir()
    (root / "tools" / "ours.toml").write_text(EXPM_RULE)
    f = root / "pkg" / "sub" / "m.py"
    f.write_text("import tensorflow as tf\ny = tf.linalg.expm(x)\n")
    proc = run("convert", "m.py", cwd=root / "pkg" / "sub")
    assert proc.stdout == "import torch\n\ny = torch.linalg.matrix_exp(x)\n", proc.stderr
    # --rules adds to the config's rules
    assert run("convert", "m.py", "--rules", root / "tools" / "ours.toml", cwd=root / "pkg" / "sub").returncode == 0


def test_include_and_exclude_are_relative_to_the_config_file(tmp_path):
    root = project(tmp_path / "repo", '[tool.transpiler]\nto = "torch"\nexclude = ["/pkg/gen/", "*_pb2.py"]\n')
    (root / "pkg" / "gen").mkdir()
    (root / "pkg" / "gen" / "g.py").write_text(TF_SOURCE)
    (root / "pkg" / "m_pb2.py").write_text(TF_SOURCE)
    (root / "pkg" / "m.py").write_text(TF_SOURCE)
    (root / "gen").mkdir()
    (root / "gen" / "top.py").write_text(TF_SOURCE)  # not /pkg/gen/: converted
    for cwd, target in ((root, "."), (root / "pkg", "."), (tmp_path, root), (tmp_path, root / "pkg")):
        proc = run("convert", target, "--check", cwd=cwd)
        assert proc.returncode == 1
        assert "m.py: 2 converted" in proc.stdout, (cwd, proc.stdout)
        assert "g.py" not in proc.stdout and "m_pb2.py" not in proc.stdout, (cwd, proc.stdout)
        assert ("top.py" in proc.stdout) == (target in (".", root) and cwd != root / "pkg"), (cwd, proc.stdout)
    include = project(tmp_path / "other", '[tool.transpiler]\nto = "torch"\ninclude = ["/pkg/*.py"]\n')
    (include / "pkg" / "a.py").write_text(TF_SOURCE)
    (include / "b.py").write_text(TF_SOURCE)
    proc = run("convert", ".", "--check", cwd=include)
    assert "a.py" in proc.stdout and "b.py" not in proc.stdout


def test_force_exclude_applies_excludes_to_named_files(tmp_path):
    root = project(tmp_path / "repo", '[tool.transpiler]\nto = "torch"\nexclude = ["legacy/"]\n')
    (root / "legacy").mkdir()
    (root / "legacy" / "old.py").write_text(TF_SOURCE)
    (root / "new.py").write_text(TF_SOURCE)
    named = run("convert", "legacy/old.py", "new.py", "--check", cwd=root)
    assert "old.py" in named.stdout  # a file named on the command line is taken
    forced = run("convert", "legacy/old.py", "new.py", "--check", "--force-exclude", cwd=root)
    assert "old.py" not in forced.stdout and "new.py" in forced.stdout
    only = run("convert", "legacy/old.py", "--check", "--force-exclude", cwd=root)
    assert only.returncode == 0 and "0 file(s)" in only.stdout
    cli_glob = run("convert", "new.py", "--check", "--force-exclude", "--exclude", "new.py", cwd=root)
    assert cli_glob.returncode == 0


def test_explicit_config_file(tmp_path):
    (tmp_path / "cfg.toml").write_text('[tool.transpiler]\nto = "torch"\n')
    f = tmp_path / "m.py"
    f.write_text(TORCH_SOURCE)
    assert run("convert", f, "--check", "--config", tmp_path / "cfg.toml").returncode == 0
    missing = run("convert", f, "--check", "--config", tmp_path / "nope.toml")
    assert missing.returncode == 2 and "nope.toml: no such file" in missing.stderr


def test_bad_config_is_a_usage_error_naming_the_file(tmp_path):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "m.py").write_text(TF_SOURCE)
    cases = {
        '[tool.transpiler]\nto = "jax"\n': "to: expected 'torch', 'tf' or 'auto'",
        '[tool.transpiler]\nexclude = "legacy/"\n': "exclude: expected a list of strings",
        '[tool.transpiler\n': "not valid TOML",
        '[tool.transpiler]\nfrom = "tf"\nspeed = 3\n': "unknown key(s) speed",
    }
    for text, message in cases.items():
        (root / "pyproject.toml").write_text(text)
        proc = run("convert", "m.py", "--check", cwd=root)
        if "not valid TOML" in message:
            # a pyproject that does not parse has no [tool.transpiler] to find
            assert proc.returncode == 1, proc.stderr
            continue
        assert proc.returncode == 2, (text, proc.stderr)
        assert f"{root / 'pyproject.toml'}: " in proc.stderr and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert (root / "m.py").read_text() == TF_SOURCE


def test_stdin_filename_finds_the_config_of_its_folder(tmp_path):
    root = project(tmp_path / "repo", '[tool.transpiler]\nto = "torch"\n[tool.black]\nline-length = 50\n')
    src = "import tensorflow as tf\n\nx = tf.reduce_sum(tf.ones([2, 3]), axis=1, keepdims=True)\n"
    proc = run("convert", "-", "--stdin-filename", root / "pkg" / "m.py", stdin=src, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "import torch\n\nx = torch.sum(\n    torch.ones([2, 3]), dim=1, keepdim=True\n)\n"


# -- black settings -----------------------------------------------------------

BLACK_SOURCE = (
    "import tensorflow as tf\n\n"
    "names = ['kept',   'as is', 'even in a line far longer than the sixty columns set']\n"
    "total = tf.reduce_sum(tf.ones([2, 3]), axis=1, keepdims=True, name='total_sum')\n"
    "short = tf.nn.gelu(x,approximate=True)\n"
)


def test_black_settings_apply_to_changed_lines_only(tmp_path):
    root = project(tmp_path / "repo", '[tool.black]\nline-length = 50\nskip-string-normalization = true\n')
    f = root / "pkg" / "m.py"
    f.write_text(BLACK_SOURCE)
    proc = run("convert", f, "--to", "torch")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "import torch\n"
        "import torch.nn.functional as F\n\n"
        "names = ['kept',   'as is', 'even in a line far longer than the sixty columns set']\n"
        "total = torch.sum(\n"
        "    torch.ones([2, 3]), dim=1, keepdim=True\n"
        ")\n"
        "short = F.gelu(x, approximate='tanh')\n"
    )
    # the same file under black's defaults (88 columns, string normalisation)
    default = tmp_path / "elsewhere"
    (default / ".git").mkdir(parents=True)
    g = default / "m.py"
    g.write_text(BLACK_SOURCE)
    assert run("convert", g, "--to", "torch").stdout == (
        "import torch\n"
        "import torch.nn.functional as F\n\n"
        "names = ['kept',   'as is', 'even in a line far longer than the sixty columns set']\n"
        "total = torch.sum(torch.ones([2, 3]), dim=1, keepdim=True)\n"
        'short = F.gelu(x, approximate="tanh")\n'
    )


def test_the_nearest_pyproject_gives_black_its_settings(tmp_path):
    root = project(tmp_path / "repo", "[tool.black]\nline-length = 120\n")
    (root / "pkg" / "pyproject.toml").write_text("[tool.black]\nline-length = 50\n")
    line = "import tensorflow as tf\n\nx = tf.reduce_sum(tf.ones([2, 3]), axis=1, keepdims=True)\n"
    (root / "top.py").write_text(line)
    (root / "pkg" / "inner.py").write_text(line)
    top = run("convert", root / "top.py", "--to", "torch").stdout
    inner = run("convert", root / "pkg" / "inner.py", "--to", "torch").stdout
    assert "x = torch.sum(torch.ones([2, 3]), dim=1, keepdim=True)\n" in top
    assert "x = torch.sum(\n    torch.ones([2, 3]), dim=1, keepdim=True\n)\n" in inner


def test_gitignore_files_above_the_converted_folder_count(tmp_path):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / ".gitignore").write_text("src/generated/\n")
    (root / "src" / "generated").mkdir(parents=True)
    (root / "src" / "generated" / "g.py").write_text(TF_SOURCE)
    (root / "src" / "m.py").write_text(TF_SOURCE)
    proc = run("convert", "src", "--to", "torch", "--check", cwd=root)
    assert "m.py" in proc.stdout and "g.py" not in proc.stdout
    proc = run("convert", ".", "--to", "torch", "--check", cwd=root / "src")
    assert "m.py" in proc.stdout and "g.py" not in proc.stdout
    everything = run("convert", "src", "--to", "torch", "--check", "--no-gitignore", cwd=root)
    assert "g.py" in everything.stdout
    # above the repository root nothing counts
    (tmp_path / ".gitignore").write_text("m.py\n")
    assert "m.py" in run("convert", "src", "--to", "torch", "--check", cwd=root).stdout
