"""A message kept where it is on screen while a page of older messages lands above it.

Textual lays out and paints in one pass. A scroll corrected after the page's layout (once its
height is known) comes at least a frame late, and an answer's Markdown takes a few layouts to
reach its height: until then each frame shows the view pushed down by what landed above it.
The list tells its ``PlaceKeeper`` each arrangement from ``arrange``, inside the layout pass,
and the keeper scrolls by what the held message moved before that frame is painted (as Textual
itself does for a view anchored to the bottom).
"""

from __future__ import annotations

from textual.geometry import Size
from textual.layout import DockArrangeResult
from textual.scrollbar import ScrollBar
from textual.widget import Widget


class PlaceKeeper:
    """Keeps one child of a scrolling widget in place on screen, from ``hold`` to ``release``."""

    def __init__(self) -> None:
        self._size: Size | None = None
        self._arrangement: DockArrangeResult | None = None
        self._held: Widget | None = None
        self._y: int | None = None

    def hold(self, widget: Widget | None) -> None:
        self._held = widget
        self._y = self._top(self._arrangement)

    def release(self) -> None:
        self._held = self._y = None

    def arranged(
        self, scrolling: Widget, size: Size, arrangement: DockArrangeResult, *, scroll: bool
    ) -> None:
        """``scrolling`` was arranged (in the layout pass): scroll it by what the held child
        moved since the last arrangement, where ``scroll`` allows (not while Textual keeps it
        at its end). A new size moves everything: the place is taken afresh then."""
        y = self._top(arrangement)
        moved = 0
        if size == self._size and y is not None and self._y is not None:
            moved = y - self._y
        self._size, self._arrangement, self._y = size, arrangement, y
        if moved and scroll:
            top = scrolling.scroll_y + moved
            scrolling.set_reactive(Widget.scroll_y, top)
            scrolling.set_reactive(Widget.scroll_target_y, top)
            scrolling.vertical_scrollbar.set_reactive(ScrollBar.position, top)

    def _top(self, arrangement: DockArrangeResult | None) -> int | None:
        if self._held is None or arrangement is None:
            return None
        for placement in arrangement.placements:
            if placement.widget is self._held:
                return placement.region.y
        return None
