"""Sphinx configuration of the osc-instanceha documentation.

Built by ``tox -e docs`` (warnings are errors).  The configuration
reference and the OpenStackClient command reference are generated from the
installed distribution (oslo.config's and cliff's Sphinx extensions), the
release notes from releasenotes/notes and the git history (reno); the
host monitor's own command line is its ``--help`` output, captured at build
time by the ``monitor-help`` directive below.
"""
import contextlib
import io
import os

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.parsers.rst import directives

project = "osc-instanceha"
copyright = "osc-instanceha developers"
author = "osc-instanceha developers"

extensions = [
    "openstackdocstheme",
    "oslo_config.sphinxext",
    "cliff.sphinxext",
    "reno.sphinxext",
]

html_theme = "openstackdocs"
# The project is not hosted on OpenDev: no "report a bug" or source links
# into OpenStack's trackers.
openstackdocs_repo_name = "osc-instanceha"
openstackdocs_use_storyboard = False
openstackdocs_bug_project = ""
openstackdocs_auto_name = False
openstackdocs_pdf_link = False

master_doc = "index"
exclude_patterns = ["_build"]
pygments_style = "native"

# cliff.sphinxext: the OpenStackClient commands as "openstack instanceha ..."
autoprogram_cliff_application = "openstack"


class MonitorHelp(Directive):
    """``.. monitor-help:: [subcommand]``: the ``instanceha-monitor``
    console script's ``--help`` output, as a literal block."""

    optional_arguments = 1
    has_content = False
    option_spec = {"caption": directives.unchanged}

    def run(self):
        from monitor import cmd

        argv = self.arguments + ["--help"]
        output = io.StringIO()
        previous = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "79"
        try:
            with contextlib.redirect_stdout(output):
                try:
                    cmd.main(argv)
                except SystemExit as exc:
                    if exc.code not in (0, None):
                        raise self.error(
                            "instanceha-monitor %s exited %s"
                            % (" ".join(argv), exc.code)) from exc
        finally:
            if previous is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = previous
        text = "$ instanceha-monitor %s\n%s" % (" ".join(argv),
                                                output.getvalue())
        block = nodes.literal_block(text, text)
        block["language"] = "none"
        return [block]


class MutableOptions(Directive):
    """``.. mutable-options::``: the options SIGHUP reloads, as a list
    generated from the option definitions (``mutable=True``), so that no
    page lists them by hand."""

    has_content = False

    def run(self):
        from monitor import conf

        items = nodes.bullet_list()
        for group, opts in conf.list_opts():
            for opt in opts:
                if opt.mutable:
                    text = "[%s] %s" % (group, opt.dest)
                    items += nodes.list_item(
                        "", nodes.paragraph("", "", nodes.literal(text,
                                                                  text)))
        return [items]


def setup(app):
    app.add_directive("monitor-help", MonitorHelp)
    app.add_directive("mutable-options", MutableOptions)
