"""A trained avatar as one object: `Avatar` owns everything needed to render it (its Gaussians
and offsets with their rig and cut, the person's identity, the background, the settings it was
trained with) and its renderer; `load_avatar` is the one way to read an .avatar file into one,
`Avatar.save` the one way to write it; `ExpressionRange` keeps a driving source inside the
expressions it learned; `LiveMap` carries the live tracker's parameters into the avatar's own. Imports the layers below (renderer, gaussians, data, rig)."""

from avatar.model.avatar import Avatar, Source, load_avatar
from avatar.model.expression_range import ClampReport, ClampTally, ExpressionRange
from avatar.model.live_map import LiveMap

__all__ = ["Avatar", "ClampReport", "ClampTally", "ExpressionRange", "LiveMap", "Source", "load_avatar"]
