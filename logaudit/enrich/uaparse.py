"""ua-parser and user_agents, wrapped: the only module of logaudit that imports them.

``enrich.agents`` decides every column; this module only answers two questions for it, for
one agent text: uap-core's result (``parse``, by the resolver ``ua_parser`` itself judges best:
``ua_parser.BestAvailableResolver``, the Rust ``ua-parser-rs`` when importable, else
``google-re2``, else the pure-Python one), and ``user_agents``' device type for a person
(``device_type``). It is imported only when an agent must actually be classified: importing
it costs ~8 ms (ua-parser's package and ``user_agents``), which a run whose agents all come
from the cache across runs, or from the agents helper (``agentproc.py``), never pays.

Speed. ``user_agents.parse`` runs ua-parser's *legacy* API (``ua_parser.user_agent_parser``), which
tries the ~1,000 uap-core regexes one by one in pure Python: about 0.4 ms per agent here, against
0.02-0.05 ms with the Rust resolver (20 s instead of 2 s for 50,000 agents). So this module never
calls it: ``DeviceRules`` is ``user_agents.UserAgent`` with its parse step replaced by the fast
resolver's result, and only its device rules are used (they read nothing else). The two parsers
agree on uap-core's test agents but for 6 spiders that only the Rust one recognises.
"""

from __future__ import annotations

import sys


def _without_yaml() -> None:
    """Import ua-parser without PyYAML: its ``loaders`` imports it (10-40 ms) for
    ``load_yaml``, which logaudit never calls (the rules come from ``ua-parser-builtins``).
    ``sys.modules[name] = None`` makes that import fail, as when PyYAML is not installed,
    and is removed at once, so that anything else importing ``yaml`` later gets it."""
    if "yaml" in sys.modules or "ua_parser" in sys.modules:
        return
    sys.modules["yaml"] = None  # type: ignore[assignment]
    try:
        import ua_parser  # noqa: F401
    finally:
        if sys.modules.get("yaml", 0) is None:
            del sys.modules["yaml"]


_without_yaml()

import ua_parser  # noqa: E402
from ua_parser import OS, DefaultedResult, Device, Domain, UserAgent  # noqa: E402


def _lazy_legacy_parser() -> None:
    """Load ua-parser's legacy module on first use instead of at import.

    ``user_agents`` imports ``ua_parser.user_agent_parser``, whose import compiles some 1,000
    regular expressions with Python's ``re`` (0.2-0.35 s of every run), although logaudit never
    calls it (see the module docstring). The standard library's LazyLoader stands the module in
    and runs it, unchanged, the first time anything reads one of its attributes.
    """
    import importlib.util

    name = "ua_parser.user_agent_parser"
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    # `from ua_parser import user_agent_parser` looks for the attribute first; ua_parser's
    # module __getattr__ does not know it, so the import would load the real module.
    setattr(ua_parser, "user_agent_parser", module)  # noqa: B010


_lazy_legacy_parser()

from user_agents.parsers import UserAgent as _UserAgent  # noqa: E402
from user_agents.parsers import (  # noqa: E402
    parse_browser,
    parse_device,
    parse_operating_system,
)

__all__ = [
    "ALL",
    "DEVICE",
    "NO_DEVICE",
    "RESOLVER_CLASS",
    "DefaultedResult",
    "DeviceRules",
    "Domain",
    "Resolver",
    "device_type",
    "parse",
    "resolver",
]

Resolver = ua_parser.Resolver
# The resolver ua_parser itself judges best (Rust > re2 > pure Python); ``agents.RESOLVER``
# names it without importing this module (the agent cache's fingerprint).
RESOLVER_CLASS = ua_parser.BestAvailableResolver
ALL = Domain.ALL
DEVICE = Domain.DEVICE
NO_DEVICE = Domain.USER_AGENT | Domain.OS


def resolver() -> Resolver:
    """A new resolver of ``RESOLVER_CLASS`` (building it compiles the rules: 0.10-0.17 s)."""
    native = RESOLVER_CLASS is not ua_parser.BasicResolver
    matchers = ua_parser.load_lazy_builtins() if native else ua_parser.load_builtins()
    return RESOLVER_CLASS(matchers)


def parse(resolver: Resolver, agent: str, domains: Domain = ALL) -> DefaultedResult:
    """uap-core's result for one agent; the domains not asked for, and those that found
    nothing, hold the defaults ('Other')."""
    r = resolver(agent, domains)
    return DefaultedResult(
        user_agent=r.user_agent or UserAgent(),
        os=r.os or OS(),
        device=r.device or Device(),
        string=agent,
    )


class DeviceRules(_UserAgent):
    """``user_agents.UserAgent`` built from a ua-parser 1.0 result, without its slow parse.

    Its ``is_tablet`` / ``is_mobile`` / ``is_pc`` / ``is_bot`` read exactly these four attributes,
    set here in the shapes ``user_agents`` builds from the legacy parser's dictionaries (the legacy
    parser passes no ``patch_minor`` for the browser; ``parse_browser`` ignores it anyway).
    """

    def __init__(self, agent: str, r: DefaultedResult) -> None:  # no super(): that re-parses
        self.ua_string = agent
        ua, os, dev = r.user_agent, r.os, r.device
        self.browser = parse_browser(ua.family, ua.major, ua.minor, ua.patch)
        self.os = parse_operating_system(os.family, os.major, os.minor, os.patch, os.patch_minor)
        self.device = parse_device(dev.family, dev.brand, dev.model)

    def device_type(self) -> str:
        if self.is_bot:
            return "bot"
        if self.is_tablet:
            return "tablet"
        if self.is_mobile:
            return "mobile"
        if self.is_pc:
            return "desktop"
        return "other"


def device_type(agent: str, r: DefaultedResult) -> str:
    """``user_agents``' device type of an agent uap-core parsed as ``r``: 'bot', 'tablet',
    'mobile', 'desktop' or 'other'."""
    return DeviceRules(agent, r).device_type()
