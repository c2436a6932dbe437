"""The viewer's panels, one small widget class each, stacked by `PanelLayout` in a column on
each side of the window; the avatar is drawn in the space between."""

from viewer.panels.base import Panel, PanelLayout

__all__ = ["Panel", "PanelLayout"]
