"""The pipeline families Studio supports: one module per family (its FamilySpec, hooks and tiny components),
gathered here in one registry that the generic loading and sampling code reads."""

from __future__ import annotations

from studio.runtime.families import cogvideox, ltx, wan, wan_vace
from studio.runtime.families.spec import (
    TASK_WORDS,
    TASKS,
    FamilySpec,
    Geometry,
    TinyParts,
    canonical_latents,
    capabilities,
    check_geometry,
    geometry,
    model_defaults,
)

FAMILIES: dict[str, FamilySpec] = {}


def register(spec: FamilySpec) -> FamilySpec:
    """Make a family loadable (a plugin's, a test's); its pipeline classes must not belong to another."""
    others = [other for other in FAMILIES.values() if other.name != spec.name]
    taken = {cls: other.name for other in others for cls in other.loadable}
    clashes = sorted(cls for cls in spec.loadable if cls in taken)
    if clashes:
        owners = ", ".join(f"{cls} ({taken[cls]})" for cls in clashes)
        raise ValueError(f"family {spec.name!r} claims pipeline classes another family loads: {owners}")
    FAMILIES[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    FAMILIES.pop(name, None)


for _module in (wan, ltx, cogvideox, wan_vace):
    register(_module.SPEC)


def supported_classes_text() -> str:
    return "; ".join(f"{spec.label}: {', '.join(spec.loadable)}" for spec in FAMILIES.values())


def family_for_class(class_name: str) -> FamilySpec | None:
    return next((spec for spec in FAMILIES.values() if class_name in spec.loadable), None)


__all__ = [
    "FAMILIES",
    "TASKS",
    "TASK_WORDS",
    "FamilySpec",
    "Geometry",
    "TinyParts",
    "canonical_latents",
    "capabilities",
    "check_geometry",
    "family_for_class",
    "geometry",
    "model_defaults",
    "register",
    "supported_classes_text",
    "unregister",
]
