// The vault's page scripts: long outputs folded, wide code boxes fitted. The graph is graph.js (on the vendored
// force-graph), hover previews preview.js, search query handling search.js, math math.js.

// Long outputs (outputs.py marks those past LONG_OUTPUT lines) are folded, with a button to see all of them.
(function () {
  "use strict";
  function fold() {
    document.querySelectorAll("pre.llm-long:not(.llm-folded):not(.llm-unfolded)").forEach(function (pre) {
      var lines = pre.getAttribute("data-lines");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "llm-unfold";
      button.setAttribute("aria-expanded", "false");
      button.textContent = "Show all " + lines + " lines";
      button.addEventListener("click", function () {
        var open = pre.classList.toggle("llm-unfolded");
        pre.classList.toggle("llm-folded", !open);
        button.setAttribute("aria-expanded", String(open));
        button.textContent = open ? "Show fewer lines" : "Show all " + lines + " lines";
      });
      pre.classList.add("llm-folded");
      pre.parentNode.insertBefore(button, pre.nextSibling);
    });
  }
  if (window.document$ && window.document$.subscribe) window.document$.subscribe(fold);
  else document.addEventListener("DOMContentLoaded", fold);
})();

// On a desktop, a code box a little wider than the column (a ```text diagram, a shell line: `llm-vault fmt` formats
// only python cells) is shown whole in a smaller font instead of scrolling sideways; down to 70% of the size, beyond
// that it scrolls as before. Phones keep the normal size and scroll.
(function () {
  "use strict";
  function fit() {
    if (window.innerWidth < 1200) return;
    document.querySelectorAll("article .highlight pre > code").forEach(function (code) {
      code.style.fontSize = "";
      var ratio = code.clientWidth / code.scrollWidth, size = parseFloat(getComputedStyle(code).fontSize);
      if (ratio < 1 && ratio >= 0.7) code.style.fontSize = (size * ratio * 0.98).toFixed(2) + "px";
    });
  }
  if (window.document$ && window.document$.subscribe) window.document$.subscribe(fit);
  else document.addEventListener("DOMContentLoaded", fit);
  window.addEventListener("load", fit);
  window.addEventListener("resize", fit);
})();
