/* The forward-process slider (docs/diffusion/forward.md).
 *
 * The page holds, inside <div class="diffusion-slider">, the sprite sheet as
 * an image and a link to its JSON index; both are drawn by the course's code
 * (genai.diffusion.figures.plot_forward_sprite). Without JavaScript the reader
 * sees the whole sheet. With it, this script swaps them for one frame and a
 * range input: the frame is a window on the sheet, moved with
 * background-position; the label shows t and alpha-bar_t from the index.
 *
 * Material's instant navigation swaps pages without reloading scripts, so
 * the set-up runs on every page it emits through `document$`.
 */
(function () {
  "use strict";

  function formatAlphaBar(a) {
    return a >= 0.01 ? a.toFixed(3) : a.toPrecision(2);
  }

  function build(box, spriteUrl, info) {
    var frame = document.createElement("div");
    frame.className = "diffusion-slider__frame";
    frame.setAttribute("role", "img");
    frame.style.backgroundImage = 'url("' + spriteUrl + '")';
    frame.style.backgroundSize =
      info.columns * 100 + "% " + info.rows * 100 + "%";
    frame.style.aspectRatio = info.frame_width + " / " + info.frame_height;

    var input = document.createElement("input");
    input.type = "range";
    input.min = "0";
    input.max = String(info.frames - 1);
    input.step = "1";
    input.value = "0";
    input.setAttribute("aria-label", "Diffusion step t");

    var label = document.createElement("output");
    label.className = "diffusion-slider__label";
    label.setAttribute("aria-live", "polite");

    function show(t) {
      var column = t % info.columns;
      var row = Math.floor(t / info.columns);
      var x = info.columns > 1 ? (column / (info.columns - 1)) * 100 : 0;
      var y = info.rows > 1 ? (row / (info.rows - 1)) * 100 : 0;
      frame.style.backgroundPosition = x + "% " + y + "%";
      var alphaBar = formatAlphaBar(info.alpha_bars[t]);
      label.innerHTML = "t = " + t + ", \u1FB1<sub>t</sub> = " + alphaBar;
      input.setAttribute("aria-valuetext",
                         "step " + t + ", alpha bar " + alphaBar);
      frame.setAttribute(
        "aria-label",
        "The photograph after " + t + " of " + info.steps + " noising steps"
      );
    }

    input.addEventListener("input", function () {
      show(Number(input.value));
    });

    var controls = document.createElement("div");
    controls.className = "diffusion-slider__controls";
    controls.append(input, label);
    box.replaceChildren(frame, controls);
    box.dataset.ready = "true";
    show(0);
  }

  function setUp(box) {
    if (box.dataset.ready) return;
    var image = box.querySelector("img");
    var index = box.querySelector('a[href$=".json"]');
    if (!image || !index) return;
    box.dataset.ready = "loading";
    fetch(index.href)
      .then(function (response) {
        if (!response.ok) throw new Error(response.status + " " + index.href);
        return response.json();
      })
      .then(function (info) {
        build(box, image.src, info);
      })
      .catch(function (error) {
        // Keep the whole sheet on the page: it still shows every frame.
        delete box.dataset.ready;
        console.warn("diffusion slider:", error);
      });
  }

  function setUpAll() {
    document.querySelectorAll(".diffusion-slider").forEach(setUp);
  }

  if (typeof document$ !== "undefined") {
    document$.subscribe(setUpAll);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpAll);
  } else {
    setUpAll();
  }
})();
