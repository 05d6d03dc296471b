import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import CommandError, InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes import podman_image
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes.podman_image import ImageSpec


def test_tag_depends_on_inputs_not_on_package_order():
    a = ImageSpec(name="n", packages=("python3", "systemd"))
    b = ImageSpec(name="n", packages=("systemd", "python3", "python3"))
    assert a.reference == b.reference
    assert a.reference.startswith("localhost/distroforge/n:")
    assert ImageSpec(name="n", packages=("python3",)).reference != a.reference
    assert ImageSpec(name="n", packages=a.packages, mirror="http://mirror.example/debian").reference != a.reference


def test_mmdebstrap_command_line():
    argv = podman_image.mmdebstrap_argv(ImageSpec(name="n", packages=("systemd", "dbus")), "/tmp/x.tar")
    assert argv[0] == "mmdebstrap"
    assert "--variant=minbase" in argv
    assert "--include=dbus,systemd" in argv
    # apt lists removed and the update stamp dated 1970: `apt: cache_valid_time` on a new node must update
    assert any(
        "var/lib/apt/lists/*" in a and 'touch -d @0 "$1"/var/lib/apt/periodic/update-success-stamp' in a for a in argv
    )
    assert argv[-3:] == ["bookworm", "/tmp/x.tar", "http://deb.debian.org/debian"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ImageSpec(name="bad name"), "image name 'bad name'"),
        (ImageSpec(name="n", mirror="ftp.debian.org"), "where.mirror: 'ftp.debian.org' is not"),
        (ImageSpec(name="n", variant="tiny"), "where.variant: 'tiny'"),
    ],
)
def test_bad_specs_are_named(spec, message):
    with pytest.raises(InputError) as err:
        spec.validate("where")
    assert message in str(err.value)


def test_existing_image_is_not_rebuilt(monkeypatch):
    monkeypatch.setattr(podman_image, "image_exists", lambda ref: True)
    monkeypatch.setattr(podman_image, "run", lambda *a, **k: pytest.fail("must not build"))
    assert podman_image.build(ImageSpec(name="n"), "/nonexistent")["changed"] is False


def test_check_mode_reports_a_build_without_building(monkeypatch, tmp_path):
    monkeypatch.setattr(podman_image, "image_exists", lambda ref: False)
    monkeypatch.setattr(podman_image, "run", lambda *a, **k: pytest.fail("must not build"))
    result = podman_image.build(ImageSpec(name="n"), str(tmp_path / "cache"), check_mode=True)
    assert result["changed"] is True
    assert not (tmp_path / "cache").exists()


def test_failed_build_leaves_nothing_behind(monkeypatch, tmp_path):
    monkeypatch.setattr(podman_image, "image_exists", lambda ref: False)
    calls = []

    def fake_run(argv, **kw):
        calls.append(argv[0])
        target = argv[-2]
        with open(target, "w") as fh:
            fh.write("partial")
        raise CommandError("boom")

    monkeypatch.setattr(podman_image, "run", fake_run)
    with pytest.raises(CommandError):
        podman_image.build(ImageSpec(name="n"), str(tmp_path))
    assert calls == ["mmdebstrap"]
    assert list(tmp_path.iterdir()) == []


def _flaky_mirror(monkeypatch, failures):
    """run() fails like apt on the first ``failures`` mmdebstrap calls, then builds."""
    monkeypatch.setattr(podman_image, "image_exists", lambda ref: False)
    monkeypatch.setattr(podman_image, "RETRY_DELAY", 0)
    calls = []

    def fake_run(argv, **kw):
        calls.append(argv[0])
        if argv[0] == "mmdebstrap" and calls.count("mmdebstrap") <= failures:
            with open(argv[-2], "w") as fh:
                fh.write("partial")
            raise CommandError(
                "node image 'n': mmdebstrap failed (rc 1): E: Failed to fetch http://deb.debian.org/debian/pool/x.deb",
                stderr_tail="E: Failed to fetch http://deb.debian.org/debian/pool/x.deb  Connection timed out",
            )

    monkeypatch.setattr(podman_image, "run", fake_run)
    return calls


def test_a_mirror_hiccup_is_tried_again(monkeypatch, tmp_path):
    calls = _flaky_mirror(monkeypatch, failures=2)
    assert podman_image.build(ImageSpec(name="n"), str(tmp_path))["changed"] is True
    assert calls == ["mmdebstrap", "mmdebstrap", "mmdebstrap", "podman"]
    assert list(tmp_path.iterdir()) == []


def test_a_mirror_that_keeps_failing_is_named_with_the_attempts(monkeypatch, tmp_path):
    calls = _flaky_mirror(monkeypatch, failures=5)
    with pytest.raises(CommandError) as err:
        podman_image.build(ImageSpec(name="n"), str(tmp_path))
    assert calls == ["mmdebstrap"] * podman_image.MMDEBSTRAP_ATTEMPTS
    assert "Failed to fetch" in str(err.value) and "(after 3 attempts)" in str(err.value)
    assert list(tmp_path.iterdir()) == []


PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def test_ca_certificates_shape_the_image_by_content(tmp_path):
    one, same, other = tmp_path / "proxy.crt", tmp_path / "copy.pem", tmp_path / "other.crt"
    one.write_text(PEM)
    same.write_text(PEM)
    other.write_text(PEM.replace("fake", "else"))
    plain = ImageSpec(name="n")
    with_ca = ImageSpec(name="n", ca_certificates=(str(one),))
    assert with_ca.reference != plain.reference
    assert ImageSpec(name="n", ca_certificates=(str(same),)).reference == with_ca.reference  # content, not path
    assert ImageSpec(name="n", ca_certificates=(str(other),)).reference != with_ca.reference
    argv = podman_image.mmdebstrap_argv(ImageSpec(name="n", ca_certificates=(str(same),)), "/tmp/x.tar")
    assert f"--customize-hook=copy-in {same} /usr/local/share/ca-certificates/distroforge/" in argv
    # .pem is not read by update-ca-certificates: installed as .crt
    assert any(a.endswith('distroforge/00-copy.crt"') for a in argv)
    assert argv[-4] == '--customize-hook=chroot "$1" update-ca-certificates --fresh'
    assert argv[-3:] == ["bookworm", "/tmp/x.tar", "http://deb.debian.org/debian"]


def test_bad_ca_certificates_are_named(tmp_path):
    (tmp_path / "key.crt").write_text("not a certificate\n")
    with pytest.raises(InputError, match=r"where.ca_certificates: .*key.crt holds no PEM certificate"):
        ImageSpec(name="n", ca_certificates=(str(tmp_path / "key.crt"),)).validate("where")
    with pytest.raises(InputError, match=r"where.ca_certificates: /nope.crt is not a file"):
        ImageSpec(name="n", ca_certificates=("/nope.crt",)).validate("where")
