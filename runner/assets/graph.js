// The vault's graph on the vendored force-graph (canvas, d3-force): zoom, pan and drag (mouse and touch), a note's
// neighbours highlighted on hover, folder colours with a legend that filters, a name filter, labels kept inside
// the frame. `.llm-graph-full` shows every note; `.llm-graph-local[data-node]` a note and its neighbours, centred
// on it. Data: window.LLM_VAULT_GRAPH = {folders, nodes: [[title, url, folder, planned]], links: [[row, row]]}.
(function () {
  "use strict";
  // Tableau 10: distinguishable, and readable on Material's light and dark backgrounds
  var PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                 "#9c755f", "#bab0ac"];
  var LABEL_PX = 12;        // label size on screen, whatever the zoom
  var LABEL_ZOOM = 1.6;     // in a crowded frame, every label appears once zoomed in this much past the fit
  var LABEL_AREA = 12000;   // px² of frame per note below which the frame is crowded

  function siteBase() {
    var el = document.getElementById("__config");
    var base = el ? JSON.parse(el.textContent).base : ".";
    return new URL(base.replace(/\/?$/, "/"), location.href).href;
  }

  function theme(box) {
    var css = getComputedStyle(box);
    return { fg: css.getPropertyValue("--md-default-fg-color").trim() || "#000",
             faint: css.getPropertyValue("--md-default-fg-color--lightest").trim() || "#0002",
             light: css.getPropertyValue("--md-default-fg-color--light").trim() || "#0008",
             accent: css.getPropertyValue("--md-accent-fg-color").trim() || "#f50",
             bg: css.getPropertyValue("--md-default-bg-color").trim() || "#fff" };
  }

  function graphOf(data, center) {
    var nodes = data.nodes.map(function (n, i) {
      return { id: i, title: n[0], url: n[1], folder: n[2], planned: !!n[3], degree: 0, near: [] };
    });
    var links = data.links.map(function (l) { return { source: l[0], target: l[1] }; });
    links.forEach(function (l) {
      nodes[l.source].degree++; nodes[l.target].degree++;
      nodes[l.source].near.push(l.target); nodes[l.target].near.push(l.source);
    });
    if (center === null) return { nodes: nodes, links: links };
    var keep = {}; keep[center] = true;
    nodes[center].near.forEach(function (i) { keep[i] = true; });
    return { nodes: nodes.filter(function (n) { return keep[n.id]; }),
             links: links.filter(function (l) { return keep[l.source] && keep[l.target]; }) };
  }

  function colour(node, data) {
    if (node.planned) return "#9e9e9e";
    return PALETTE[node.folder % PALETTE.length];
  }

  function controls(box, data, fg, state, redraw) {
    var bar = document.createElement("div");
    bar.className = "llm-graph-bar";
    if (box.classList.contains("llm-graph-full")) {
      var input = document.createElement("input");
      input.type = "search"; input.placeholder = "Filter notes…"; input.className = "llm-graph-filter";
      input.setAttribute("aria-label", "Show only the notes whose name contains");
      input.addEventListener("input", function () { state.text = input.value.trim().toLowerCase(); redraw(); });
      bar.appendChild(input);
    }
    [["+", "Zoom in", function () { fg.zoom(fg.zoom() * 1.5, 200); }],
     ["−", "Zoom out", function () { fg.zoom(fg.zoom() / 1.5, 200); }],
     ["⤢", "Fit the graph to the frame", function () { fit(fg, box, state, 300); }]].forEach(function (b) {
      var button = document.createElement("button");
      button.type = "button"; button.textContent = b[0]; button.title = b[1];
      button.setAttribute("aria-label", b[1]); button.className = "llm-graph-button";
      button.addEventListener("click", b[2]);
      bar.appendChild(button);
    });
    box.appendChild(bar);
    var used = {};
    state.nodes.forEach(function (n) { if (!n.planned) used[n.folder] = true; });
    var legend = document.createElement("ul");
    legend.className = "llm-graph-legend";
    data.folders.forEach(function (name, i) {
      if (!used[i] || name === "(planned)") return;
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button"; button.setAttribute("aria-pressed", "true");
      button.title = "Show or hide the notes of " + (name || "the vault's top level");
      button.innerHTML = '<span class="llm-swatch"></span>';
      button.firstChild.style.background = PALETTE[i % PALETTE.length];
      button.appendChild(document.createTextNode(name || "(top level)"));
      button.addEventListener("click", function () {
        state.hidden[i] = !state.hidden[i];
        button.setAttribute("aria-pressed", state.hidden[i] ? "false" : "true");
        redraw();
      });
      item.appendChild(button);
      legend.appendChild(item);
    });
    if (state.nodes.some(function (n) { return n.planned; })) {
      var planned = document.createElement("li");
      planned.innerHTML = '<span class="llm-swatch llm-swatch-planned"></span>planned, not written yet';
      legend.appendChild(planned);
    }
    box.appendChild(legend);
  }

  function fit(fg, box, state, ms) {
    if (state.center !== null) {  // the local graph: its note in the middle, its neighbours around it
      var far = 1;
      state.nodes.forEach(function (n) {
        if (isFinite(n.x) && isFinite(n.y)) far = Math.max(far, Math.abs(n.x), Math.abs(n.y));
      });
      var w = box.clientWidth, h = state.height;
      fg.centerAt(0, 0, ms);
      fg.zoom(Math.min(4, Math.max(0.2, Math.min(w * 0.42, h * 0.4) / (far + 10))), ms);
    } else if (state.nodes.some(function (n) { return visible(n, state) && isFinite(n.x); })) {
      fg.zoomToFit(ms, 40, function (n) { return visible(n, state); });
    }
    setTimeout(function () { state.fitScale = fg.zoom(); }, ms + 20);
  }

  // Nodes keep `gap` apart, so labels overlap less. force-graph bundles d3-force but does not export its
  // forceCollide; this is the same idea, pairwise, used only for small graphs (≤ 80 notes).
  function collide(nodes, gap) {
    function force(alpha) {
      for (var i = 0; i < nodes.length; i++) for (var j = i + 1; j < nodes.length; j++) {
        var a = nodes[i], b = nodes[j], dx = b.x - a.x, dy = b.y - a.y, d = Math.sqrt(dx * dx + dy * dy) || 1;
        if (d < gap * 2) {
          var push = (gap * 2 - d) / d * alpha * 0.5;
          b.x += dx * push; b.y += dy * push; a.x -= dx * push; a.y -= dy * push;
        }
      }
    }
    force.initialize = function () {};
    return force;
  }

  function visible(node, state) {
    if (node.planned && state.text) return false;
    if (!node.planned && state.hidden[node.folder]) return false;
    return !state.text || node.title.toLowerCase().indexOf(state.text) >= 0;
  }

  function draw(box, data, base) {
    if (typeof ForceGraph !== "function" || box.llmGraph) return;
    var attr = box.getAttribute("data-node");
    var center = attr === null ? null : Number(attr);
    if (center !== null && !data.nodes[center]) return;
    var g = graphOf(data, center);
    var big = g.nodes.length > 80;
    var canvasBox = document.createElement("div");
    canvasBox.className = "llm-graph-canvas";
    box.textContent = "";
    box.appendChild(canvasBox);
    var state = { center: center, nodes: g.nodes, text: "", hidden: {}, hover: null, colours: theme(box), pending: [],
                  height: canvasBox.clientHeight || 320 };
    var byId = {};
    g.nodes.forEach(function (n) { byId[n.id] = n; });
    if (center !== null) { byId[center].fx = 0; byId[center].fy = 0; }

    function lit(node) {  // the hovered note and its neighbours; everything else fades
      return state.hover === null || node.id === state.hover.id || state.hover.near.indexOf(node.id) >= 0;
    }
    function radius(node) { return 3 + Math.sqrt(node.degree) * 1.6; }

    var fg = ForceGraph()(canvasBox)
      .width(box.clientWidth).height(state.height)
      .backgroundColor("rgba(0,0,0,0)")
      .graphData({ nodes: g.nodes, links: g.links })
      .nodeId("id")
      .nodeLabel(function (n) { return n.planned ? n.title + " (planned, not written yet)" : n.title; })
      .nodeVisibility(function (n) { return visible(n, state); })
      .linkVisibility(function (l) { return visible(l.source, state) && visible(l.target, state); })
      .linkColor(function (l) {
        var on = state.hover && (l.source.id === state.hover.id || l.target.id === state.hover.id);
        return on ? state.colours.accent : state.colours.faint;
      })
      .linkWidth(function (l) {
        return state.hover && (l.source.id === state.hover.id || l.target.id === state.hover.id) ? 2 : 1;
      })
      .nodeCanvasObject(function (node, ctx, scale) {
        var r = radius(node), alpha = lit(node) ? 1 : 0.15;
        ctx.globalAlpha = alpha;
        ctx.beginPath(); ctx.arc(node.x, node.y, r, 0, 2 * Math.PI);
        if (node.planned) {
          ctx.strokeStyle = "#9e9e9e"; ctx.lineWidth = 1.5 / scale; ctx.stroke();
        } else {
          ctx.fillStyle = colour(node, data); ctx.fill();
        }
        if (node.id === center || (state.hover && node.id === state.hover.id)) {
          ctx.strokeStyle = state.colours.fg; ctx.lineWidth = 2 / scale; ctx.stroke();
        }
        var showLabel = (state.hover && lit(node)) || node.degree >= state.hubDegree || !state.crowded ||
                        scale > (state.fitScale || 1) * LABEL_ZOOM;
        if (showLabel) state.pending.push({ node: node, r: r, alpha: alpha });
        ctx.globalAlpha = 1;
      })
      .nodePointerAreaPaint(function (node, paint, ctx) {
        ctx.fillStyle = paint; ctx.beginPath();
        ctx.arc(node.x, node.y, radius(node) + 3, 0, 2 * Math.PI); ctx.fill();
      })
      .onNodeHover(function (node) {
        state.hover = node || null;
        box.setAttribute("data-hover", node ? node.title : "");
        fg.linkWidth(fg.linkWidth());  // once the layout has stopped, only a changed accessor repaints
        canvasBox.style.cursor = node && node.url ? "pointer" : "";
      })
      .onNodeClick(function (node) {
        if (node.url && node.id !== center) location.href = base + node.url;
      })
      .onNodeDragEnd(function (node) { if (node.id === center) { node.fx = 0; node.fy = 0; } })
      .cooldownTicks(big ? 100 : 60)
      .warmupTicks(big ? 100 : 300);
    fg.d3Force("charge").strength(big ? -40 : -260);
    fg.d3Force("link").distance(big ? 30 : 70).strength(big ? 0.3 : 0.08);
    if (!big) fg.d3Force("collide", collide(g.nodes, 14));
    if (center !== null) fg.d3Force("center", null);
    var fitted = 0;
    fg.onRenderFramePre(function () { state.pending = []; state.crowded = crowded(); });  // once a frame, not per node
    fg.onRenderFramePost(function (ctx, scale) {
      labels(ctx, scale);
      if (fitted === 0) { fitted = 1; fit(fg, box, state, 0); }
    });
    fg.onEngineStop(function () {  // the layout has settled: fit it once more, then it is the reader's
      if (fitted < 2) { fitted = 2; fit(fg, box, state, 400); setTimeout(function () { state.settled = true; }, 450); }
    });

    // labels, drawn after the nodes, most important first: the hovered note and the centre always, then the
    // hovered note's neighbours, then by number of links; a label that would overlap one already drawn is left
    // out (zoom in or hover to see it). A constant size on screen, on the node's right unless that leaves the
    // frame, then on its left, and clamped inside the frame in any case. state.labels: what was drawn, in px.
    function labels(ctx, scale) {
      var size = LABEL_PX / scale, pad = 4 / scale, gap = 2 / scale, font = getComputedStyle(document.body).fontFamily;
      var topLeft = fg.screen2GraphCoords(0, 0), bottomRight = fg.screen2GraphCoords(box.clientWidth, state.height);
      function rank(p) {
        if (p.node.id === center || (state.hover && p.node.id === state.hover.id)) return 0;
        return state.hover && lit(p.node) ? 1 : 2;
      }
      var todo = state.pending.slice().sort(function (a, b) {
        return rank(a) - rank(b) || b.node.degree - a.node.degree || a.node.id - b.node.id;
      });
      var placed = [];
      ctx.font = size + "px " + font;
      ctx.textBaseline = "middle";
      ctx.fillStyle = state.colours.fg;
      todo.forEach(function (p) {
        var node = p.node, width = ctx.measureText(node.title).width, x = node.x + p.r + gap;
        if (x + width > bottomRight.x - pad) x = node.x - p.r - gap - width;
        x = Math.max(topLeft.x + pad, Math.min(x, bottomRight.x - pad - width));
        var y = Math.max(topLeft.y + size, Math.min(node.y, bottomRight.y - size));
        var rect = [x - gap, y - size / 2 - gap, x + width + gap, y + size / 2 + gap];
        var overlaps = placed.some(function (q) {
          return rect[0] < q.rect[2] && q.rect[0] < rect[2] && rect[1] < q.rect[3] && q.rect[1] < rect[3];
        });
        if (overlaps && rank(p) > 0) return;
        placed.push({ title: node.title, rect: rect });
        ctx.globalAlpha = p.alpha;
        ctx.fillText(node.title, x, y);
      });
      ctx.globalAlpha = 1;
      state.labels = placed.map(function (q) {
        var a = fg.graph2ScreenCoords(q.rect[0], q.rect[1]), b = fg.graph2ScreenCoords(q.rect[2], q.rect[3]);
        return { title: q.title, box: [a.x, a.y, b.x, b.y] };
      });
    }

    // every label when each note has room for one; else only the hubs', the rest when zoomed in or hovered
    var degrees = g.nodes.map(function (n) { return n.degree; }).sort(function (a, b) { return b - a; });
    state.hubDegree = Math.max(1, degrees[Math.min(7, degrees.length - 1)] || 1);
    function crowded() {
        var shown = state.nodes.filter(function (n) { return visible(n, state); }).length || 1;
        return box.clientWidth * state.height / shown < LABEL_AREA;
    }

    function redraw() {
      fg.nodeVisibility(fg.nodeVisibility());  // re-setting an accessor makes force-graph repaint
      fit(fg, box, state, 300);
    }
    controls(box, data, fg, state, redraw);
    box.llmGraph = fg;
    box.llmGraphState = state;

    new ResizeObserver(function () { fg.width(box.clientWidth); }).observe(box);
    new MutationObserver(function () {  // Material's light / dark switch
      state.colours = theme(box); fg.linkColor(fg.linkColor());
    }).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
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
