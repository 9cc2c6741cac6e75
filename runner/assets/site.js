// The vault's graph: a small, dependency-free SVG force layout (deterministic, so pages look the same on every
// load). `.llm-graph-full` shows every note; `.llm-graph-local[data-note]` shows a note and its neighbours.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function siteBase() {
    var el = document.getElementById("__config");
    var base = el ? JSON.parse(el.textContent).base : ".";
    return base.replace(/\/$/, "") + "/";
  }

  function subgraph(data, center) {
    if (!center) return data;
    var keep = {}; keep[center] = true;
    data.links.forEach(function (l) {
      if (l[0] === center) keep[l[1]] = true;
      if (l[1] === center) keep[l[0]] = true;
    });
    return {
      nodes: data.nodes.filter(function (n) { return keep[n.id]; }),
      links: data.links.filter(function (l) { return keep[l[0]] && keep[l[1]]; })
    };
  }

  function layout(nodes, links, w, h) {
    var n = nodes.length, index = {};
    nodes.forEach(function (d, i) {          // a sunflower spiral: spread out, no randomness
      var a = i * 2.399963, r = 12 * Math.sqrt(i + 0.5);
      d.x = w / 2 + r * Math.cos(a); d.y = h / 2 + r * Math.sin(a); index[d.id] = d;
    });
    var seen = {}, edges = [];                  // undirected: a link both ways is one edge
    links.forEach(function (l) {
      var key = [l[0], l[1]].sort().join("\n");
      if (!seen[key]) { seen[key] = true; edges.push([index[l[0]], index[l[1]]]); }
    });
    var k = Math.sqrt((w * h) / Math.max(n, 1)) * 0.5;
    for (var it = 0, steps = 300; it < steps; it++) {
      var t = 1 - it / steps;
      nodes.forEach(function (d) { d.fx = (w / 2 - d.x) * 0.05; d.fy = (h / 2 - d.y) * 0.05; });
      for (var i = 0; i < n; i++) {
        for (var j = i + 1; j < n; j++) {
          var a = nodes[i], b = nodes[j], dx = a.x - b.x, dy = a.y - b.y;
          var d2 = Math.max(dx * dx + dy * dy, 0.01), f = (4 * k * k) / d2;
          a.fx += dx * f; a.fy += dy * f; b.fx -= dx * f; b.fy -= dy * f;
        }
      }
      edges.forEach(function (e) {
        var a = e[0], b = e[1], dx = b.x - a.x, dy = b.y - a.y, d = Math.sqrt(dx * dx + dy * dy) || 0.01;
        var f = (d - k) / d * 0.08;
        a.fx += dx * f; a.fy += dy * f; b.fx -= dx * f; b.fy -= dy * f;
      });
      nodes.forEach(function (d) {
        var len = Math.sqrt(d.fx * d.fx + d.fy * d.fy) || 1, step = Math.min(len, 20 * t + 0.5);
        d.x += d.fx / len * step; d.y += d.fy / len * step;
      });
    }
    // fit into the box, leaving room for labels: scale so that 90% of the notes fill it, clamp the outliers
    var cx = 0, cy = 0;
    nodes.forEach(function (d) { cx += d.x / n; cy += d.y / n; });
    var radii = nodes.map(function (d) { return Math.max(Math.abs(d.x - cx) / (w / 2 - 120), Math.abs(d.y - cy) / (h / 2 - 20)); })
                     .sort(function (a, b) { return a - b; });
    var s = 1 / Math.max(radii[Math.floor((n - 1) * 0.9)] || 1, 1e-6);
    nodes.forEach(function (d) {
      d.x = Math.min(w - 150, Math.max(20, w / 2 + (d.x - cx) * s));
      d.y = Math.min(h - 15, Math.max(15, h / 2 + (d.y - cy) * s));
    });
    return edges;
  }

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (a) { e.setAttribute(a, attrs[a]); });
    if (parent) parent.appendChild(e);
    return e;
  }

  function draw(box, data, base) {
    var center = box.getAttribute("data-note");
    var g = subgraph(data, center);
    var w = box.clientWidth || 600, h = box.clientHeight || 300;
    var nodes = g.nodes.map(function (n) { return Object.assign({}, n); });
    var edges = layout(nodes, g.links, w, h);
    var svg = el("svg", { viewBox: "0 0 " + w + " " + h, role: "img", "aria-label": "graph of linked notes" });
    var lines = edges.map(function (e) {
      var line = el("line", { x1: e[0].x, y1: e[0].y, x2: e[1].x, y2: e[1].y }, svg);
      line.ends = [e[0].id, e[1].id];
      return line;
    });
    var groups = nodes.map(function (d) {
      var cls = (d.planned ? "planned " : "") + (d.id === center ? "current" : "");
      var group = d.url && d.id !== center ? el("a", { href: base + d.url, "class": cls }, svg)
                                            : el("g", { "class": cls }, svg);
      group.setAttribute("data-id", d.id);
      var degree = edges.filter(function (e) { return e[0] === d || e[1] === d; }).length;
      el("circle", { cx: d.x, cy: d.y, r: 4 + Math.min(degree, 12) * 0.6 }, group);
      var label = el("text", { x: d.x + 8, y: d.y + 4 }, group);
      label.textContent = d.title;
      el("title", {}, group).textContent = d.planned ? d.title + " (planned, not written yet)" : d.title;
      group.addEventListener("mouseenter", function () { highlight(d.id); });
      group.addEventListener("mouseleave", function () { highlight(null); });
      return group;
    });
    function highlight(id) {
      var near = {}; near[id] = true;
      lines.forEach(function (l) {
        var on = !id || l.ends.indexOf(id) >= 0;
        if (on && id) { near[l.ends[0]] = true; near[l.ends[1]] = true; }
        l.classList.toggle("dim", !on);
      });
      groups.forEach(function (gr) { gr.classList.toggle("dim", !!id && !near[gr.getAttribute("data-id")]); });
    }
    box.textContent = "";
    box.appendChild(svg);
  }

  function init() {
    var data = window.LLM_VAULT_GRAPH;
    if (!data) return;
    var base = siteBase();
    document.querySelectorAll(".llm-graph").forEach(function (box) { draw(box, data, base); });
  }

  if (window.document$ && window.document$.subscribe) window.document$.subscribe(init);  // Material's page hook
  else document.addEventListener("DOMContentLoaded", init);
})();

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
