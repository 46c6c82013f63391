"""The log contract (issue 5 item 5), as containerd's shim and conmon read it: with --log-format
json one object per line ({"level", "msg", "time"}), appended, the last line saying what went
wrong in runc's words; text (logrus style) otherwise; --debug adds debug records."""

from __future__ import annotations

import json
import re

import pytest

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
TEXT = re.compile(r'^time="[^"]+" level=(debug|info|warning|error) msg=".*"$')


def _records(path) -> list[dict]:
    lines = path.read_text().splitlines()
    recs = [json.loads(line) for line in lines]       # every line is one JSON object
    for r in recs:
        assert set(r) == {"level", "msg", "time"}, r
        assert r["level"] in ("debug", "info", "warning", "error")
        assert RFC3339.match(r["time"]), r["time"]
    return recs


def _json_log(runtime, log, *args, debug: bool = False):
    g = ("--log", str(log), "--log-format", "json") + (("--debug",) if debug else ())
    return runtime(*args, globals_=g)


def test_error_is_the_last_json_line_and_the_file_is_appended(runtime, bundle, tmp_path):
    log = tmp_path / "log.json"
    log.write_text('{"level":"info","msg":"from an earlier call","time":"2026-01-01T00:00:00Z"}\n')
    b = bundle(["/nonexistent"])
    p = _json_log(runtime, log, "create", "-b", str(b), runtime.new_id())
    assert p.returncode == 1
    recs = _records(log)
    assert recs[0]["msg"] == "from an earlier call"          # appended, not truncated
    assert recs[-1]["level"] == "error"
    assert 'exec: "/nonexistent": stat /nonexistent: no such file or directory' in recs[-1]["msg"]
    # a human running it sees the same message on stderr, once
    assert p.stderr.decode().strip().endswith(recs[-1]["msg"])
    # a second failing call appends its own last line (containerd reuses one log.json per bundle)
    p = _json_log(runtime, log, "kill", "nosuchid", "9")
    recs2 = _records(log)
    assert len(recs2) == len(recs) + 1 and recs2[-1]["msg"] == "container does not exist"


@pytest.mark.parametrize("args,words", [
    (["nosuchcmd"], 'exec: "nosuchcmd": executable file not found in $PATH'),
    (["/etc/passwd"], 'exec: "/etc/passwd": permission denied'),
    (["/etc"], 'exec: "/etc": permission denied'),
])
def test_init_errors_in_runc_words(runtime, bundle, tmp_path, args, words):
    # podman maps "not found"/"no such file" to exit 127 and "permission denied" to 126 from this line
    log = tmp_path / "log.json"
    p = _json_log(runtime, log, "create", "-b", str(bundle(args)), runtime.new_id())
    assert p.returncode == 1
    assert words in _records(log)[-1]["msg"]


def test_failed_mount_in_init_reaches_the_log(runtime, bundle, tmp_path):
    def edit(c):
        c["mounts"].append({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["size=bogus"]})
    log = tmp_path / "log.json"
    p = _json_log(runtime, log, "create", "-b", str(bundle(["true"], edit=edit)), runtime.new_id())
    assert p.returncode == 1
    last = _records(log)[-1]
    assert last["level"] == "error" and "/data" in last["msg"] and "invalid argument" in last["msg"].lower()


def test_exec_errors_reach_the_log(runtime, bundle, tmp_path):
    cid = runtime.new_id()
    runtime("run", "-d", "-b", str(bundle(["sleep", "300"])), cid, check=True)
    log = tmp_path / "oci-log"
    p = _json_log(runtime, log, "exec", "--detach", cid, "nosuchcmd")
    assert p.returncode == 255
    assert _records(log)[-1]["msg"] == ('exec failed: unable to start container process: exec: "nosuchcmd": '
                                        "executable file not found in $PATH")


def test_debug_adds_debug_records(runtime, bundle, tmp_path):
    log = tmp_path / "log.json"
    cid = runtime.new_id()
    p = _json_log(runtime, log, "run", "-b", str(bundle(["true"])), cid, debug=True)
    assert p.returncode == 0, p.stderr
    recs = _records(log)
    assert recs and all(r["level"] == "debug" for r in recs)
    assert any(cid in r["msg"] for r in recs)
    # without --debug a successful command writes nothing
    log2 = tmp_path / "quiet.json"
    assert _json_log(runtime, log2, "run", "-b", str(bundle(["true"])), runtime.new_id()).returncode == 0
    assert not log2.exists() or log2.read_text() == ""


def test_debug_shows_where_init_failed(runtime, bundle, tmp_path):
    log = tmp_path / "log.json"
    p = _json_log(runtime, log, "create", "-b", str(bundle(["nosuchcmd"])), runtime.new_id(), debug=True)
    assert p.returncode == 1
    recs = _records(log)
    assert any(r["level"] == "debug" and "Traceback" in r["msg"] for r in recs)
    assert recs[-1]["level"] == "error"           # the useful line stays last


def test_text_format(runtime, bundle, tmp_path):
    log = tmp_path / "log.txt"
    p = runtime("create", "-b", str(bundle(["nosuchcmd"])), runtime.new_id(), globals_=("--log", str(log)))
    assert p.returncode == 1
    lines = log.read_text().splitlines()
    assert lines and all(TEXT.match(line) for line in lines), lines
    assert 'exec: \\"nosuchcmd\\": executable file not found in $PATH' in lines[-1]


def test_no_log_file_plain_stderr(runtime, bundle):
    p = runtime("create", "-b", str(bundle(["nosuchcmd"])), runtime.new_id())
    assert p.returncode == 1
    assert p.stderr.decode().splitlines() == ['exec: "nosuchcmd": executable file not found in $PATH']


def test_usage_errors_reach_the_json_log(runtime, tmp_path):
    # containerd reads only log.json: even a bad command line must leave a JSON line there
    log = tmp_path / "log.json"
    p = _json_log(runtime, log, "create", "--no-such-flag", "x")
    assert p.returncode != 0
    assert _records(log)[-1]["level"] == "error"
