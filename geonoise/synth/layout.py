"""The geometry of a synthetic scene, in map coordinates (metres of a projected CRS).

Roads are buffered polylines on a jittered, rotated grid; a lake or river
avoids them; buildings (rectangles, L and T shapes, courtyard blocks, large
flat halls) are placed by rejection so they keep clear of roads, water and each
other and line up with the street grid; trees grow in clusters and rows along
streets. Everything the renderer draws and every label object comes from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon, box

from geonoise.synth.styles import RGB, Style


@dataclass(frozen=True)
class Grid:
    """The pixel grid of a scene: size, ground resolution and top-left corner."""

    width: int
    height: int
    resolution: float
    origin_x: float
    origin_y: float

    @property
    def transform(self):  # -> affine.Affine
        """The affine pixel → map transform (north up)."""
        from rasterio.transform import from_origin

        return from_origin(self.origin_x, self.origin_y, self.resolution, self.resolution)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` in map units."""
        return (
            self.origin_x,
            self.origin_y - self.height * self.resolution,
            self.origin_x + self.width * self.resolution,
            self.origin_y,
        )


@dataclass
class RoofPart:
    """A rectangular wing of a building with its own roof.

    Attributes:
        polygon: The wing's outline.
        angle: Direction of the ridge (the long axis), radians from the x axis.
        center: ``(x, y)`` of the wing: the ridge passes through it.
        width: The wing's short side (eave to eave), metres.
    """

    polygon: Polygon
    angle: float
    center: tuple[float, float]
    width: float


@dataclass
class Building:
    """A building: wings, eave height (m), roof shape, roof pitch (radians) and colour."""

    parts: list[RoofPart]
    height: float
    roof: str  # "gable" or "flat"
    pitch: float
    color: RGB
    footprint: Polygon = field(init=False)

    def __post_init__(self) -> None:
        self.footprint = shapely.union_all([p.polygon for p in self.parts])


@dataclass
class Road:
    """A road: centre line, paved width and whether it has lane markings."""

    line: LineString
    width: float
    marked: bool

    @property
    def polygon(self) -> Polygon:
        """The paved surface."""
        return self.line.buffer(self.width / 2, cap_style="flat")


@dataclass
class TreeCluster:
    """Tree crowns as an ``(n, 4)`` array of ``x, y, radius, height``."""

    crowns: np.ndarray

    @property
    def polygon(self):  # -> Polygon | MultiPolygon
        """The union of the crowns, as seen from above."""
        points = shapely.points(self.crowns[:, :2])
        return shapely.union_all(shapely.buffer(points, self.crowns[:, 2], quad_segs=6))


@dataclass
class Layout:
    """All objects of a scene."""

    grid: Grid
    roads: list[Road]
    water: list[Polygon]
    buildings: list[Building]
    trees: list[TreeCluster]


def make_layout(grid: Grid, style: Style, rng: np.random.Generator) -> Layout:
    """Lay out roads, water, buildings and trees for ``grid`` in ``style``."""
    grid_angle = rng.uniform(-math.radians(35), math.radians(35))
    roads = make_roads(grid, grid_angle, rng)
    road_area = shapely.union_all([r.polygon for r in roads]) if roads else Polygon()
    water = make_water(grid, style, road_area, rng)
    keep_out = shapely.union_all(
        [shapely.buffer(r.line, r.width / 2 + 3.0) for r in roads] + [w.buffer(3.0) for w in water]
    )
    buildings = place_buildings(grid, style, grid_angle, keep_out, rng)
    trees = place_trees(grid, style, roads, water, buildings, rng)
    return Layout(grid, roads, water, buildings, trees)


def rectangle(cx: float, cy: float, length: float, width: float, angle: float) -> Polygon:
    """A ``length`` × ``width`` rectangle centred on ``(cx, cy)``, long axis at ``angle``."""
    c, s = math.cos(angle), math.sin(angle)
    corners = [(-length / 2, -width / 2), (length / 2, -width / 2), (length / 2, width / 2)]
    corners.append((-length / 2, width / 2))
    return Polygon([(cx + u * c - v * s, cy + u * s + v * c) for u, v in corners])


def make_roads(grid: Grid, angle: float, rng: np.random.Generator) -> list[Road]:
    """Straight streets on a rotated, jittered grid, plus sometimes one winding road."""
    xmin, ymin, xmax, ymax = grid.bounds
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    reach = math.hypot(xmax - xmin, ymax - ymin) / 2 + 20
    roads = []
    for direction in (angle, angle + math.pi / 2):
        spacing = rng.uniform(110, 170)
        d, n = (
            (math.cos(direction), math.sin(direction)),
            (-math.sin(direction), math.cos(direction)),
        )
        for offset in np.arange(-reach + rng.uniform(0, spacing), reach, spacing):
            if rng.random() > 0.85:
                continue
            offset += rng.uniform(-12, 12)
            ox, oy = cx + n[0] * offset, cy + n[1] * offset
            line = LineString(
                [(ox - d[0] * reach, oy - d[1] * reach), (ox + d[0] * reach, oy + d[1] * reach)]
            )
            major = rng.random() < 0.4
            roads.append(Road(line, rng.uniform(8, 10) if major else rng.uniform(5, 6.5), major))
    if rng.random() < 0.5:
        roads.append(_winding_road(grid, rng))
    scene = box(*grid.bounds).buffer(20)
    return [
        Road(r.line.intersection(scene), r.width, r.marked)
        for r in roads
        if r.line.intersects(scene)
    ]


def _winding_road(grid: Grid, rng: np.random.Generator) -> Road:
    xmin, ymin, xmax, ymax = grid.bounds
    t = np.linspace(0, 1, 80)
    y = ymin + (ymax - ymin) * (
        rng.uniform(0.2, 0.8)
        + 0.15 * np.sin(2 * np.pi * (t * rng.uniform(0.5, 1.5) + rng.random()))
    )
    x = xmin - 20 + (xmax - xmin + 40) * t
    return Road(LineString(np.column_stack([x, y])), rng.uniform(6, 8), True)


def make_water(grid: Grid, style: Style, roads, rng: np.random.Generator) -> list[Polygon]:
    """A lake (a smooth random blob) or a river, with roads crossing on bridges."""
    if rng.random() >= style.water_chance:
        return []
    xmin, ymin, xmax, ymax = grid.bounds
    size = min(xmax - xmin, ymax - ymin)
    if rng.random() < 0.6:
        center = (rng.uniform(xmin, xmax), rng.uniform(ymin, ymax))
        shape = _blob(center, rng.uniform(0.05, 0.11) * size + 10, rng)
    else:
        t = np.linspace(0, 1, 100)
        x = xmin + (xmax - xmin) * (
            rng.uniform(0.1, 0.9) + 0.12 * np.sin(2 * np.pi * (t + rng.random()))
        )
        line = LineString(np.column_stack([x, ymin - 20 + (ymax - ymin + 40) * t]))
        shape = line.buffer(rng.uniform(6, 14))
    shape = shape.difference(roads.buffer(1.0)).intersection(box(*grid.bounds).buffer(10))
    return [g for g in getattr(shape, "geoms", [shape]) if g.area > 50]


def _blob(center: tuple[float, float], radius: float, rng: np.random.Generator) -> Polygon:
    theta = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 6):
        r += rng.normal(0, 0.2 / k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r *= radius
    return Polygon(np.column_stack([center[0] + r * np.cos(theta), center[1] + r * np.sin(theta)]))


def building_parts(
    cx: float, cy: float, angle: float, rng: np.random.Generator
) -> tuple[str, list[RoofPart]]:
    """A random building shape at ``(cx, cy)``: its kind and its wings."""
    kind = rng.choice(["rect", "L", "T", "courtyard", "hall"], p=[0.42, 0.2, 0.14, 0.08, 0.16])
    perp = angle + math.pi / 2
    c, s = math.cos(angle), math.sin(angle)

    def part(u: float, v: float, length: float, width: float, along: bool) -> RoofPart:
        x, y = cx + u * c - v * s, cy + u * s + v * c
        a = angle if along else perp
        return RoofPart(rectangle(x, y, length, width, a), a, (x, y), width)

    if kind == "hall":
        return kind, [part(0, 0, rng.uniform(28, 55), rng.uniform(18, 30), True)]
    if kind == "courtyard":
        length, depth, t = rng.uniform(26, 42), rng.uniform(24, 36), rng.uniform(8, 11)
        sides = [part(0, sign * (depth - t) / 2, length, t, True) for sign in (-1, 1)]
        ends = [part(sign * (length - t) / 2, 0, depth - 2 * t + 0.2, t, False) for sign in (-1, 1)]
        return kind, sides + ends
    length, width = rng.uniform(10, 24), rng.uniform(7, 11)
    parts = [part(0, 0, length, width, True)]
    if kind in ("L", "T"):
        wing_w, wing_l = rng.uniform(6, width), rng.uniform(5, 12)
        u = (
            rng.choice([-1, 1]) * (length - wing_w) / 2
            if kind == "L"
            else rng.uniform(-0.2, 0.2) * length
        )
        v = rng.choice([-1, 1]) * (width / 2 + wing_l / 2 - 0.1)
        parts.append(part(u, v, wing_l + 0.2, wing_w, False))
    return kind, parts


def place_buildings(
    grid: Grid, style: Style, grid_angle: float, keep_out, rng: np.random.Generator
) -> list[Building]:
    """Buildings placed by rejection until ``style.building_cover`` of the scene is built."""
    xmin, ymin, xmax, ymax = grid.bounds
    target = style.building_cover * (xmax - xmin) * (ymax - ymin)
    shapely.prepare(keep_out)
    buildings: list[Building] = []
    taken = np.empty((0, 4))
    built = 0.0
    for _ in range(int(60 + target / 8)):
        if built >= target:
            break
        angle = grid_angle + rng.choice([0, math.pi / 2]) + rng.normal(0, math.radians(2))
        if rng.random() < 0.1:
            angle = rng.uniform(0, math.pi)
        kind, parts = building_parts(rng.uniform(xmin, xmax), rng.uniform(ymin, ymax), angle, rng)
        footprint = shapely.union_all([p.polygon for p in parts])
        x0, y0, x1, y1 = footprint.buffer(2.5).bounds
        if keep_out.intersects(footprint) or np.any(
            (taken[:, 0] < x1) & (taken[:, 2] > x0) & (taken[:, 1] < y1) & (taken[:, 3] > y0)
        ):
            continue
        buildings.append(_dress(kind, parts, style, rng))
        taken = np.vstack([taken, footprint.bounds])
        built += footprint.area
    return buildings


def _dress(kind: str, parts: list[RoofPart], style: Style, rng: np.random.Generator) -> Building:
    flat = kind == "hall" or rng.random() < style.flat_roof_share
    height = (
        rng.uniform(6, 10) if kind == "hall" else rng.uniform(5, 14 if kind == "courtyard" else 11)
    )
    base = np.array(style.roof_colors[rng.integers(len(style.roof_colors))])
    color = tuple(np.clip(base * rng.uniform(0.85, 1.15) + rng.normal(0, 0.02, 3), 0, 1))
    pitch = math.radians(rng.uniform(28, 42))
    return Building(parts, float(height), "flat" if flat else "gable", pitch, color)


def place_trees(
    grid: Grid,
    style: Style,
    roads: list[Road],
    water: list[Polygon],
    buildings: list[Building],
    rng: np.random.Generator,
) -> list[TreeCluster]:
    """Tree clusters in open ground and rows along some streets."""
    xmin, ymin, xmax, ymax = grid.bounds
    blocked = shapely.union_all(
        [b.footprint.buffer(0.5) for b in buildings] + [r.polygon for r in roads] + water
    )
    shapely.prepare(blocked)
    n_clusters = rng.poisson(style.tree_clusters * (xmax - xmin) * (ymax - ymin) / 1e4)
    seeds = [
        _tree_cluster(rng.uniform(xmin, xmax), rng.uniform(ymin, ymax), rng)
        for _ in range(n_clusters)
    ]
    seeds += [_tree_row(road, rng) for road in roads if rng.random() < style.tree_clusters / 20]
    clusters = []
    for crowns in seeds:
        if len(crowns) == 0:
            continue
        keep = ~shapely.intersects_xy(blocked, crowns[:, 0], crowns[:, 1])
        if keep.any():
            clusters.append(TreeCluster(crowns[keep]))
    return clusters


def _tree_cluster(x: float, y: float, rng: np.random.Generator) -> np.ndarray:
    n = min(1 + rng.geometric(0.25), 14)
    spread = rng.uniform(2, 8)
    xy = np.column_stack([x + rng.normal(0, spread, n), y + rng.normal(0, spread, n)])
    radius = rng.uniform(1.5, 4.5, n)
    return np.column_stack([xy, radius, radius * rng.uniform(1.6, 2.8, n)])


def _tree_row(road: Road, rng: np.random.Generator) -> np.ndarray:
    side = rng.choice([-1, 1]) * (road.width / 2 + rng.uniform(1.5, 3.0))
    edge = road.line.offset_curve(side)
    if edge.is_empty or edge.length < 10:
        return np.empty((0, 4))
    spacing = rng.uniform(8, 14)
    points = shapely.line_interpolate_point(edge, np.arange(spacing / 2, edge.length, spacing))
    xy = shapely.get_coordinates(points)
    radius = rng.uniform(2.0, 3.5) * rng.uniform(0.8, 1.2, len(xy))
    return np.column_stack([xy, radius, radius * rng.uniform(2.0, 2.6, len(xy))])
