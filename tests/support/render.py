"""
Render the formula's templates (formula/nfsha/files) with Salt's own Jinja
renderer, as file.managed does on a minion.
"""
import copy
import tempfile

import salt.config
import salt.utils.templates

from tests.conftest import ROOT

FORMULA = ROOT / "formula"
_CACHE = tempfile.TemporaryDirectory(prefix="nfsha-render-")


def render(source, context):
    """Render ``salt://<source>`` (a path under formula/) with ``context``."""
    source = source.removeprefix("salt://")
    opts = copy.deepcopy(salt.config.DEFAULT_MINION_OPTS)
    opts.update(cachedir=_CACHE.name, file_client="local", file_roots={"base": [str(FORMULA)]})
    text = (FORMULA / source).read_text()
    return salt.utils.templates.render_jinja_tmpl(text, dict(context, opts=opts, saltenv="base"))
