"""A phone's width, 390 px: every page fits it without scrolling sideways.

The top bar wraps, long words (a 300-character title without spaces) break,
and wide tables scroll inside their own box, never the page. Launched as
tests/web/test_board_browser.py launches chromium: Debian's, skipped with
the reason without it unless DEALGATE_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate.leads.services import capture_lead
from tests.web.helpers import make_deal
from tests.web.test_board_browser import chromium_path, signed_in_page  # noqa: F401

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LONG_TITLE = "Renewal" + "x" * 293

# What sticks out past the right edge of the window, outside any box that
# scrolls sideways on its own: what a person would have to scroll the page
# to see. Named for the failure message.
_STICKING_OUT = """() => {
  const width = document.documentElement.clientWidth;
  const scrollsOnItsOwn = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      if (x === 'auto' || x === 'scroll' || x === 'hidden') return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 0.5 && !scrollsOnItsOwn(el)) {
      const name = el.tagName.toLowerCase() + (el.className ? '.' + el.className : '');
      out.push(name + ' ' + Math.round(box.right) + 'px');
    }
  }
  return out.slice(0, 12);
}"""


@pytest.fixture
def pages(transactional_db, olivia, pipeline, now) -> dict[str, str]:
    deal = make_deal(pipeline, "discovery", title=LONG_TITLE, owner=olivia)
    make_deal(pipeline, "proposal", title="Helpdesk for Cancity", owner=olivia)
    lead = capture_lead(
        {"name": LONG_TITLE[:200], "email": "a@example.com", "message": LONG_TITLE},
        source="api",
    ).lead
    return {
        "board": reverse("board"),
        "deal": reverse("deal", args=[deal.pk]),
        "today": reverse("today"),
        "insights": reverse("insights:overview"),
        "pipelines": reverse("builder:index"),
        "builder": reverse("builder:detail", args=[pipeline.key]),
        "builder edit": reverse("builder:edit", args=[pipeline.key]),
        "bad board filter": reverse("board") + "?owner=nobody",
        "new deal": reverse("deal-new"),
        "leads": reverse("leads:inbox"),
        "new lead": reverse("leads:new"),
        "lead": reverse("leads:lead", args=[lead.pk]),
        "notices": reverse("notices"),
        "bottlenecks": reverse("insights:bottlenecks"),
        "weekly review": reverse("insights:review"),
    }


def test_every_page_fits_a_390_px_screen_without_scrolling_sideways(
    chromium_path,  # noqa: F811
    live_server,
    pages,
):
    with signed_in_page(live_server, chromium_path, "olivia") as page:
        page.set_viewport_size(PHONE)
        wide = {}
        for name, path in pages.items():
            page.goto(f"{live_server.url}{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                wide[name] = (width, page.evaluate(_STICKING_OUT))
        said = [f"{name}: {w} px wide; {', '.join(o)}" for name, (w, o) in wide.items()]
        assert not wide, "\n".join(said)
