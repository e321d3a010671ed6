"""Label noise applied to label polygons, in map coordinates.

Each kind is one geometric edit a careless or automatic labelling process
makes: ``missing`` (an object left out), ``spurious`` (a building where there
is none), ``shift`` (a misregistered polygon), ``dilate`` and ``erode``
(outlines drawn too wide or too tight), ``elastic`` (a wobbly, hand-drawn
boundary) and, for multi-class labels, ``flip`` (the wrong class).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import box

from geonoise.errors import InvalidInputError
from geonoise.synth.layout import Grid, building_parts
from geonoise.synth.objects import BUILDING, CLASS_SCHEMES, object_frame

if TYPE_CHECKING:
    import geopandas as gpd

NOISE_KINDS = ("missing", "spurious", "shift", "dilate", "erode", "elastic", "flip")
#: Kinds that need more than one foreground class.
MULTICLASS_KINDS = ("flip",)


@dataclass
class Change:
    """One label object changed by the noise: its geometry and class before and after."""

    object_id: int
    kind: str
    before: Any  # shapely geometry or None (spurious)
    after: Any  # shapely geometry or None (missing)
    class_before: int
    class_after: int
    params: dict[str, float] = field(default_factory=dict)


def default_kinds(scheme: str) -> tuple[str, ...]:
    """All noise kinds that make sense for a class scheme."""
    if scheme == "buildings":
        return tuple(k for k in NOISE_KINDS if k not in MULTICLASS_KINDS)
    return NOISE_KINDS


def check_kinds(kinds: tuple[str, ...], scheme: str) -> None:
    """Raise :class:`InvalidInputError` for unknown kinds or ones the scheme cannot take."""
    unknown = [k for k in kinds if k not in NOISE_KINDS]
    if unknown or not kinds:
        raise InvalidInputError(
            f"{','.join(unknown) or 'nothing'} is not a noise kind; "
            f"choose from {','.join(NOISE_KINDS)}",
            option="--noise-kinds",
        )
    if scheme == "buildings" and any(k in MULTICLASS_KINDS for k in kinds):
        raise InvalidInputError(
            "flip needs several classes; use it with --classes landcover", option="--noise-kinds"
        )


def add_noise(
    labels: gpd.GeoDataFrame,
    grid: Grid,
    scheme: str,
    rate: float,
    kinds: tuple[str, ...],
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, list[Change]]:
    """Change ``round(rate × objects)`` label objects, kinds spread evenly over ``kinds``.

    Returns:
        The noisy labels (same columns; spurious objects get new ids) and the changes.
    """
    if not 0 <= rate <= 1:
        raise InvalidInputError(f"{rate} is not between 0 and 1", option="--noise-rate")
    check_kinds(kinds, scheme)
    n_changes = round(rate * len(labels))
    plan = rng.permutation([kinds[i % len(kinds)] for i in range(n_changes)])
    edits = [k for k in plan if k != "spurious"]
    targets = rng.choice(len(labels), size=len(edits), replace=False) if edits else []
    geometries, classes = list(labels.geometry), list(labels["class"])
    changes = []
    for index, kind in zip(targets, edits, strict=True):
        change = edit_object(
            int(labels["object_id"].iloc[index]),
            kind,
            geometries[index],
            classes[index],
            scheme,
            rng,
        )
        geometries[index], classes[index] = change.after, change.class_after
        changes.append(change)
    next_id = int(labels["object_id"].max()) + 1 if len(labels) else 1
    spurious = _spurious(labels, grid, plan.tolist().count("spurious"), next_id, rng)
    changes += spurious
    kept = [i for i, g in enumerate(geometries) if g is not None and not g.is_empty]
    noisy = object_frame(
        [geometries[i] for i in kept] + [c.after for c in spurious],
        [classes[i] for i in kept] + [c.class_after for c in spurious],
        scheme,
        labels.crs,
        ids=[int(labels["object_id"].iloc[i]) for i in kept] + [c.object_id for c in spurious],
    )
    return noisy, sorted(changes, key=lambda c: c.object_id)


def edit_object(
    object_id: int, kind: str, geometry, cls: int, scheme: str, rng: np.random.Generator
) -> Change:
    """Apply one noise ``kind`` (not ``spurious``) to one label object."""
    params: dict[str, float] = {}
    after, new_class = geometry, cls
    match kind:
        case "missing":
            after = None
        case "shift":
            distance, direction = rng.uniform(1.0, 3.0), rng.uniform(0, 2 * math.pi)
            params = {"dx": distance * math.cos(direction), "dy": distance * math.sin(direction)}
            after = affinity.translate(geometry, params["dx"], params["dy"])
        case "dilate":
            params = {"distance": rng.uniform(0.6, 1.6)}
            after = geometry.buffer(params["distance"], join_style="mitre", mitre_limit=2.0)
        case "erode":
            after, params = _erode(geometry, rng)
        case "elastic":
            after, params = _elastic(geometry, rng)
        case "flip":
            choices = [c for c in range(1, len(CLASS_SCHEMES[scheme])) if c != cls]
            new_class = int(rng.choice(choices))
    return Change(object_id, kind, geometry, after, cls, new_class, params)


def _erode(geometry, rng: np.random.Generator):
    thickness = 2 * geometry.area / max(geometry.length, 1e-9)  # ~ half the narrow width
    distance = min(rng.uniform(0.6, 1.6), 0.45 * thickness)
    eroded = geometry.buffer(-distance, join_style="mitre", mitre_limit=2.0)
    while eroded.is_empty or eroded.area < 0.3 * geometry.area:
        distance /= 2
        eroded = geometry.buffer(-distance, join_style="mitre", mitre_limit=2.0)
    return eroded, {"distance": distance}


def _elastic(geometry, rng: np.random.Generator):
    amplitude, wavelength = rng.uniform(0.8, 2.0), rng.uniform(6.0, 15.0)
    waves = [
        (
            rng.normal(size=2) * 2 * math.pi / wavelength,
            rng.uniform(0, 2 * math.pi),
            rng.normal(size=2),
        )
        for _ in range(4)
    ]

    def displace(xy: np.ndarray) -> np.ndarray:
        offset = sum(np.sin(xy @ k + phase)[:, None] * a for k, phase, a in waves)
        return xy + amplitude / 2 * offset

    moved = shapely.make_valid(shapely.transform(shapely.segmentize(geometry, 1.0), displace))
    polygons = [g for g in shapely.get_parts(moved) if g.geom_type == "Polygon" and g.area > 0]
    result = shapely.union_all(polygons) if polygons else geometry
    return result, {"amplitude": amplitude, "wavelength": wavelength}


def _spurious(
    labels: gpd.GeoDataFrame, grid: Grid, count: int, first_id: int, rng: np.random.Generator
) -> list[Change]:
    """New building objects in places that hold no building label."""
    if count == 0:
        return []
    xmin, ymin, xmax, ymax = grid.bounds
    buildings = labels.geometry[labels["class"] == BUILDING]
    occupied = shapely.union_all(list(buildings.buffer(2.0))) if len(buildings) else None
    scene = box(xmin + 2, ymin + 2, xmax - 2, ymax - 2)
    changes: list[Change] = []
    for _ in range(50 * count):
        if len(changes) == count:
            break
        x, y = rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)
        _, parts = building_parts(x, y, rng.uniform(0, math.pi), rng)
        polygon = shapely.union_all([p.polygon for p in parts]).intersection(scene)
        if polygon.area < 20 or (occupied is not None and polygon.intersects(occupied)):
            continue
        occupied = polygon.buffer(2.0) if occupied is None else occupied.union(polygon.buffer(2.0))
        changes.append(Change(first_id + len(changes), "spurious", None, polygon, 0, BUILDING))
    return changes
