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
