// Hover previews of wiki-links, as Obsidian Publish and Quartz show them: the target note (or, for `[[Note#Heading]]`,
// that heading's section; for `[[Note#^block]]`, that block) in a popover. Mouse and pen hover (pointerType — a tap
// on a touch screen fires mouse events too, never a "mouse" pointer) and keyboard focus (:focus-visible) open it;
// Escape, leaving or blurring close it. Each note's text is a script, llm-vault/previews/<row>.js, written at build
// time: a <script src> loads from file:// where fetch() is refused.
(function () {
  "use strict";
  var LINKS = "article a.llm-link:not(.llm-attachment), article a.llm-backlink";
  var OPEN_MS = 250, CLOSE_MS = 200;
  var texts = {}, waiting = {}, rows = null, popover = null, current = null, openTimer = 0, closeTimer = 0;

  window.LLMVaultPreview = {
    receive: function (row, html) {
      texts[row] = html;
      (waiting[row] || []).forEach(function (cb) { cb(html); });
      delete waiting[row];
    }
  };

  function siteBase() {
    var el = document.getElementById("__config");
    var base = el ? JSON.parse(el.textContent).base : ".";
    return new URL(base.replace(/\/?$/, "/"), location.href).href;
  }

  function rowOf(href) {
    var data = window.LLM_VAULT_GRAPH;
    if (!data) return null;
    if (rows === null) {
      rows = {};
      var base = siteBase();
      data.nodes.forEach(function (n, i) { if (n[1]) rows[new URL(n[1], base).href] = i; });
    }
    var row = rows[href.split("#")[0]];
    return row === undefined ? null : row;
  }

  function load(row, cb) {
    if (row in texts) return cb(texts[row]);
    if (waiting[row]) return waiting[row].push(cb);
    waiting[row] = [cb];
    var script = document.createElement("script");
    script.src = siteBase() + "llm-vault/previews/" + row + ".js";
    script.onerror = function () { delete waiting[row]; };
    document.head.appendChild(script);
  }

  function level(el) { var m = /^H([1-6])$/.exec(el.tagName); return m ? Number(m[1]) : 0; }

  // The part of the note the link names, with its links and images made absolute (they were relative to the note)
  function excerpt(html, href) {
    var page = href.split("#")[0], hash = href.indexOf("#") >= 0 ? href.slice(href.indexOf("#") + 1) : "";
    var all = document.createElement("div");
    all.innerHTML = html;
    all.querySelectorAll("[href], [src]").forEach(function (el) {
      ["href", "src"].forEach(function (name) {
        var value = el.getAttribute(name);
        if (value !== null) el.setAttribute(name, new URL(value, page).href);
      });
    });
    var out = document.createElement("div");
    var start = hash ? all.querySelector('[id="' + CSS.escape(decodeURIComponent(hash)) + '"]') : null;
    if (start && level(start)) {
      out.appendChild(start.cloneNode(true));
      for (var el = start.nextElementSibling; el && !(level(el) && level(el) <= level(start)); el = el.nextElementSibling)
        out.appendChild(el.cloneNode(true));
    } else if (start) {
      out.appendChild(start.cloneNode(true));
    } else {
      for (var i = 0, child = all.firstElementChild; child && i < 8; child = child.nextElementSibling, i++)
        out.appendChild(child.cloneNode(true));
    }
    out.querySelectorAll("[id]").forEach(function (el) { el.removeAttribute("id"); });  // the page's ids stay unique
    return out;
  }

  function place(link) {
    var r = link.getBoundingClientRect(), width = popover.offsetWidth, height = popover.offsetHeight;
    var left = Math.max(8, Math.min(r.left, innerWidth - width - 8));
    var top = r.bottom + 6 + height > innerHeight && r.top - 6 - height > 0 ? r.top - 6 - height : r.bottom + 6;
    popover.style.left = scrollX + left + "px";
    popover.style.top = scrollY + top + "px";
  }

  function open(link) {
    clearTimeout(closeTimer);
    var href = link.href, row = rowOf(href);
    if (row === null || current === link) return;
    current = link;
    load(row, function (html) {
      if (current !== link) return;
      if (!popover) {
        popover = document.createElement("div");
        popover.className = "llm-preview md-typeset";
        popover.id = "llm-preview";
        popover.setAttribute("role", "tooltip");
        popover.addEventListener("pointerenter", function () { clearTimeout(closeTimer); });
        popover.addEventListener("pointerleave", function () { closeSoon(); });
        document.body.appendChild(popover);
      }
      popover.textContent = "";
      popover.appendChild(excerpt(html, href));
      popover.hidden = false;
      popover.setAttribute("data-for", href);
      link.setAttribute("aria-describedby", "llm-preview");
      place(link);
    });
  }

  function close() {
    clearTimeout(openTimer);
    if (current) current.removeAttribute("aria-describedby");
    current = null;
    if (popover) popover.hidden = true;
  }

  function closeSoon() { clearTimeout(closeTimer); closeTimer = setTimeout(close, CLOSE_MS); }

  function linkOf(event) { return event.target.closest ? event.target.closest(LINKS) : null; }

  document.addEventListener("pointerover", function (e) {
    if (e.pointerType !== "mouse" && e.pointerType !== "pen") return;
    var link = linkOf(e);
    if (!link) return;
    clearTimeout(openTimer); clearTimeout(closeTimer);
    openTimer = setTimeout(function () { open(link); }, OPEN_MS);
  });
  document.addEventListener("pointerout", function (e) {
    var link = linkOf(e);
    if (link && !(e.relatedTarget && link.contains(e.relatedTarget))) { clearTimeout(openTimer); closeSoon(); }
  });
  document.addEventListener("focusin", function (e) {
    var link = linkOf(e);
    if (link && link.matches(":focus-visible")) open(link);
  });
  document.addEventListener("focusout", function (e) { if (linkOf(e)) close(); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") close(); });
  document.addEventListener("pointerdown", function (e) {
    if (popover && !popover.contains(e.target)) close();
  });
})();
