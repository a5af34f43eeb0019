"""How the image build takes this machine's pip settings along: which
settings, which local paths are mounted into the build."""
import pytest

from tools.container import image

CONFIG = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.default-timeout='180'
:env:.find-links='/srv/mirror/wheels'
global.cert='/etc/ssl/certs/ca-certificates.crt'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///srv/mirror/pypi/simple https://mirror.example/simple'
global.find-links='/srv/other-wheels'
"""


def test_pip_settings_where_packages_come_from_and_env_wins():
    assert image.pip_settings(CONFIG) == {
        "cert": "/etc/ssl/certs/ca-certificates.crt",
        "extra-index-url": "file:///srv/mirror/pypi/simple "
                           "https://mirror.example/simple",
        # the environment's over the file's
        "find-links": "/srv/mirror/wheels"}


def test_no_settings_no_options():
    assert image.pip_settings("") == {}
    assert image.build_options({}) == []


def test_build_options_pass_settings_and_mount_what_exists():
    settings = image.pip_settings(CONFIG)
    present = {"/etc/ssl/certs/ca-certificates.crt", "/srv/mirror/pypi"}
    options = image.build_options(settings, exists=present.__contains__)
    args = [options[i + 1] for i, o in enumerate(options)
            if o == "--build-arg"]
    volumes = [options[i + 1] for i, o in enumerate(options)
               if o == "--volume"]
    assert args == [
        "PIP_CERT=" + image.BUILD_CERT,
        "PIP_EXTRA_INDEX_URL=file:///srv/mirror/pypi/simple "
        "https://mirror.example/simple",
        "PIP_FIND_LINKS=/srv/mirror/wheels"]
    # a path that does not exist here is not mounted (podman would fail)
    assert volumes == [
        "/etc/ssl/certs/ca-certificates.crt:%s:ro" % image.BUILD_CERT,
        # a local index: with the files its pages link to (../files)
        "/srv/mirror/pypi:/srv/mirror/pypi:ro"]


def test_defect_the_ca_bundle_is_not_mounted_over_the_images_own():
    """Mounted at its own path, the read-only CA bundle made Debian's
    ca-certificates package fail to install in the build stage."""
    options = image.build_options(
        {"cert": "/etc/ssl/certs/ca-certificates.crt"},
        exists=lambda path: True)
    mounts = [options[i + 1] for i, o in enumerate(options)
              if o == "--volume"]
    assert all(":/etc/" not in mount for mount in mounts), mounts


@pytest.mark.parametrize("nofile", [1024, 20000])
def test_the_fallback_runtime_lowers_limits_only(nofile):
    """Containers may not raise rlimits where CAP_SYS_RESOURCE is not
    in the bounding set: the fallback asks for the host's limit at most."""
    (first, first_options), (runtime, options) = \
        image.runtime_candidates(nofile)
    assert (first, first_options) == ([], [])
    assert runtime == ["--runtime", "runc"]
    assert options == ["--ulimit", "nofile=%d:%d" % (nofile, nofile),
                       "--ulimit", "nproc=4096:4096"]
