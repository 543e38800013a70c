"""
What a highstate would put on a minion, from `state.show_highstate`: one
entry per state, its arguments, with templates rendered to the text the
minion would write. Two plans compare to show what a pillar edit changes.
"""
import re

from tests.support.render import render

# The slots that nfsha.settings gives for the secrets.
_PILLAR_SLOT = re.compile(r"^__slot__:salt:pillar\.get\(([^,)]+), unmask=True\)$")

# Arguments that order or wire states, not what they produce.
_WIRING = {"require", "watch", "onchanges", "require_in", "watch_in", "order", "name"}


def flatten(highstate):
    """``{(state_id, function): {argument: value}}`` from a highstate."""
    chunks = {}
    for state_id, body in highstate.items():
        for module, items in body.items():
            if module.startswith("__"):
                continue
            function = next(i for i in items if isinstance(i, str))
            args = {k: v for i in items if isinstance(i, dict) for k, v in i.items()}
            chunks[(state_id, f"{module}.{function}")] = args
    return chunks


def artifacts(highstate, pillar=None):
    """
    ``{(function, name): what it produces}`` for every state of a highstate;
    with the secrets' slots resolved from ``pillar`` when it is given.
    """
    result = {}
    for (state_id, function), args in flatten(highstate).items():
        if pillar is not None:
            args = resolve_slots(args, pillar)
        name = args.get("name", state_id)
        if args.get("template") == "jinja" and "source" in args:
            produced = render(args["source"], args.get("context") or {})
        else:
            produced = {k: v for k, v in args.items() if k not in _WIRING}
        result[(function, str(name))] = produced
    return result


def changed(before, after):
    """The keys whose product differs between two artifact maps."""
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def resolve_slots(value, pillar):
    """``value`` with the formula's secret slots read from ``pillar``, as Salt
    resolves them when a state runs."""
    if isinstance(value, dict):
        return {k: resolve_slots(v, pillar) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_slots(v, pillar) for v in value]
    match = _PILLAR_SLOT.match(value) if isinstance(value, str) else None
    if not match:
        return value
    for key in match.group(1).split(":"):
        pillar = pillar[key]
    return pillar
