"""``dynarec-diff orus``: the JIT in lockstep with the interpreter, compared at every return
and at the end: agreement on a fixture, and a real divergence found and reported (a
function reading a register it never wrote: the interpreter's frame pool keeps the value of
an earlier call, generated code reads false -- docs/guests/orus.md, deviations)."""

from orus_testlib import build, fixture

from dynarec.guests.orus import diff, loader


def test_fixture_agrees_at_every_return(capsysbinary):
    path, expected = fixture("programs", "functions")
    assert diff.main([str(path)]) == 0
    captured = capsysbinary.readouterr()
    assert captured.out == expected
    assert b"no divergence" in captured.err and b"region exits compared" in captured.err


def _stale_register_program():
    # f(flag): if flag, R64 = 5; return R64 -- called with true, then with false
    f = [("JUMP_IF_NOT_R", 191, "skip"), ("LOAD_I32_CONST", 64, 0), "skip", ("RETURN_R", 64)]
    main = [("LOAD_I32_CONST", 0, 1), ("LOAD_TRUE", 192), ("CALL_R", 0, 192, 1, 193),
            ("LOAD_FALSE", 192), ("CALL_R", 0, 192, 1, 194), ("PRINT_R", 194), ("HALT",)]
    return build(main, [("i32", 5), ("i32", 0)], [("f", 1, f)])


def test_divergence_is_found_and_reported():
    report = diff.Lockstep(_stale_register_program()).run()
    assert report.events == 2
    assert report.divergence.splitlines() == [
        "divergence at region exit 2 (return from f):",
        "  value: JIT ('bool', False), interpreter ('int', 5)"]
    assert "DIVERGED" in report.summary()


def test_event_limit_and_bad_file(tmp_path, capsysbinary):
    path, _ = fixture("programs", "recursion")
    report = diff.Lockstep(loader.load(path), max_events=10).run()
    assert report.events == 10 and report.divergence is None
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert diff.main([str(bad)]) == 2
    assert b"dynarec-diff orus:" in capsysbinary.readouterr().err
