/* Accessibility fixes that need the page as Material renders it.
 *
 * Code annotations: Material adds, for each numbered marker in a code block,
 * a link to its note that holds no text; a screen reader announces it as
 * "link" and nothing more. Each gets a name: "Note 1", "Note 2", ...
 * (axe-core: link-name).
 *
 * Code blocks' copy buttons: Material wraps each block's copy button in a
 * <nav>, so a page with 30 code blocks has 30 unnamed navigation landmarks
 * (axe-core: landmark-unique). Each gets a name of its own, after its
 * block: "Code block 1", "Code block 2", ...
 *
 * Regions that scroll sideways: on a phone, a wide formula, table, row of
 * content tabs or code cell scrolls, and a keyboard user must be able to
 * reach it to scroll it (axe-core: scrollable-region-focusable). Each one
 * that overflows, and holds nothing focusable, joins the tab order; on a
 * wide screen, where nothing overflows, nothing changes.
 *
 * Runs on every page, instant navigation included, and when the window is
 * resized.
 */
(function () {
  "use strict";

  function nameAnnotationLinks(root) {
    root.querySelectorAll('a[href*="_annotation_"]').forEach(function (link) {
      if (!link.textContent.trim() && !link.getAttribute("aria-label")) {
        link.setAttribute("aria-label", "Note " + link.getAttribute("href").split("_").pop());
      }
    });
  }

  function nameCodeNavs(root) {
    root.querySelectorAll("nav.md-code__nav").forEach(function (nav, i) {
      nav.setAttribute("aria-label", "Code block " + (i + 1));
    });
  }

  var SCROLLERS = ".math-display, .md-typeset__scrollwrap, .tabbed-labels, " +
    ".highlight-ipynb, .jp-OutputArea-output, .md-typeset pre > code";
  var FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])";

  function focusableScrollers(root) {
    root.querySelectorAll(SCROLLERS).forEach(function (box) {
      var overflows = box.scrollWidth > box.clientWidth + 1;
      if (overflows && !box.hasAttribute("tabindex") && !box.querySelector(FOCUSABLE)) {
        box.setAttribute("tabindex", "0");
        box.dataset.courseScroller = "";
      }
    });
  }

  function fix() {
    nameAnnotationLinks(document);
    nameCodeNavs(document);
    focusableScrollers(document);
  }

  if (typeof document$ !== "undefined") {
    document$.subscribe(fix);
  } else {
    document.addEventListener("DOMContentLoaded", fix);
  }
  window.addEventListener("resize", function () { focusableScrollers(document); });
})();
