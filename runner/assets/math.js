// Typesets the page's math (spans/divs of class "arithmatex" holding \(…\) or \[…\], written by runner/site_math.py)
// with the vendored KaTeX, which is fetched only by pages that have math.
(function () {
  "use strict";
  var here = document.currentScript && document.currentScript.src;
  var katexDir = here ? here.replace(/[^/]*$/, "") + "katex/" : "katex/";
  var loading = null;

  function loadKatex() {
    if (window.katex) return Promise.resolve();
    if (loading) return loading;
    var css = document.createElement("link");
    css.rel = "stylesheet"; css.href = katexDir + "katex.min.css";
    document.head.appendChild(css);
    loading = new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = katexDir + "katex.min.js"; s.onload = resolve;
      s.onerror = function () { reject(new Error("could not load " + s.src)); };
      document.head.appendChild(s);
    });
    return loading;
  }

  function typeset() {
    var boxes = [].slice.call(document.querySelectorAll(".arithmatex:not([data-typeset])"));
    if (!boxes.length) return;
    loadKatex().then(function () {
      boxes.forEach(function (box) {
        var tex = box.textContent.trim(), display = tex.slice(0, 2) === "\\[";
        box.setAttribute("data-tex", tex);
        // an unknown command is shown in red with KaTeX's message instead of breaking the page
        window.katex.render(tex.slice(2, -2), box, { displayMode: display, throwOnError: false, output: "htmlAndMathml" });
        box.setAttribute("data-typeset", "");
      });
    });
  }

  if (window.document$ && window.document$.subscribe) window.document$.subscribe(typeset);  // Material's page hook
  else document.addEventListener("DOMContentLoaded", typeset);
})();
