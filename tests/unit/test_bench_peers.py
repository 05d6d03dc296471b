"""bench/peers.py: a peer's venv is reused while its pins stay the same and made again when they change."""

from __future__ import annotations

from .dlrn_harness import PEERS


def _fake_made(monkeypatch, tmp_path):
    monkeypatch.setattr(PEERS, "ROOT", tmp_path / "peers")
    monkeypatch.setattr(PEERS, "PINS", tmp_path / "pins")
    (tmp_path / "pins").mkdir()
    (tmp_path / "pins" / "subunit2junitxml.txt").write_text("junitxml==0.7\n")
    peer = PEERS.PEERS["subunit2junitxml"]
    (peer.venv / "bin").mkdir(parents=True)
    (peer.venv / "bin" / "subunit2junitxml").write_text("")
    return peer


def test_a_made_venv_is_reused_until_its_pins_change(monkeypatch, tmp_path, capsys):
    peer = _fake_made(monkeypatch, tmp_path)
    assert not peer.ready()  # no stamp: an install that did not finish
    (peer.venv / ".distroforge-peer").write_text(peer.stamp() + "\n")
    assert peer.ready()
    assert PEERS.ensure("subunit2junitxml") == peer.venv  # nothing installed: it is ready
    assert PEERS.main(["subunit2junitxml", "--check"]) == 0
    (tmp_path / "pins" / "subunit2junitxml.txt").write_text("junitxml==0.8\n")
    assert not peer.ready()
    assert PEERS.main(["--check"]) == 1  # neither is ready now; --check installs nothing
    out = capsys.readouterr().out
    assert "subunit2junitxml: " in out and "missing (python bench/peers.py makes it)" in out
    assert not (tmp_path / "peers" / "dlrn").exists()


def test_every_peer_has_its_pins():
    for peer in PEERS.PEERS.values():
        pinned = {line.split("==")[0].lower() for line in peer.pins.read_text().splitlines() if "==" in line}
        assert {req.split("==")[0].lower() for req in peer.requirements} <= pinned, peer.name
