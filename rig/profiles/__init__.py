"""Camera model profiles: data files in this package, one per model we follow.

A profile says how a model is reset (procedure, off_s, hold_s and the vendor's window,
boot_timeout_s, longer holds to escalate to) and how the fixture reaches its reset button.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from rig.errors import ConfigError
from rig.job import HARD_PROCEDURES
from rig.qa.settings import firmware_text
from rig.tomlcheck import parse_toml

#: What a profile (and a bay) may name as its procedure: those that press a bay's pin.
PROCEDURES = HARD_PROCEDURES
GENERIC = "hikvision-generic"


@dataclass(frozen=True)
class Profile:
    model: str
    kind: str
    procedure: str
    off_s: float
    hold_s: float
    hold_window_s: tuple[float, float]
    boot_timeout_s: float
    escalation_holds_s: tuple[float, ...]
    fixture: str
    source: str
    # The QA pass (rig.procedures.qa): asked for every unit of this model, the lowest
    # firmware the lab supports, the picture's sharpness limit (variance of the Laplacian of
    # the bay's test scene), and whether the model has a memory-card slot to check.
    qa: bool = False
    min_firmware: str | None = None
    blur_threshold: float = 100.0
    has_card_slot: bool = True


def _read(name: str, text: str) -> Profile:
    t = parse_toml(text, f"profile {name}")
    window = t.numbers("hold_window_s", lo=1, hi=60)
    if len(window) != 2 or window[0] > window[1]:
        raise t.error("hold_window_s", f"must be [low, high], got {window}")
    profile = Profile(
        model=t.text("model"),
        kind=t.text("kind"),
        procedure=t.text("procedure", choices=PROCEDURES),
        off_s=t.number("off_s", lo=0.5, hi=60, unit="s"),
        hold_s=t.number("hold_s", lo=1, hi=60, unit="s"),
        hold_window_s=(window[0], window[1]),
        boot_timeout_s=t.number("boot_timeout_s", lo=5, hi=1800, unit="s"),
        escalation_holds_s=tuple(t.numbers("escalation_holds_s", lo=1, hi=60)),
        fixture=t.text("fixture"),
        source=t.text("source"),
        qa=t.flag("qa", False),
        min_firmware=firmware_text(t, "min_firmware", None),
        blur_threshold=t.number("blur_threshold", 100.0, lo=1, hi=100000),
        has_card_slot=t.flag("has_card_slot", True),
    )
    t.finish()
    return profile


@cache
def all_profiles() -> dict[str, Profile]:
    """Every profile shipped with rig, by model name."""
    found: dict[str, Profile] = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            profile = _read(entry.name, entry.read_text(encoding="utf-8"))
            found[profile.model] = profile
    return found


def get_profile(model: str) -> Profile:
    profiles = all_profiles()
    try:
        return profiles[model]
    except KeyError:
        known = ", ".join(profiles)
        raise ConfigError(f"unknown profile {model!r}; known: {known}") from None
