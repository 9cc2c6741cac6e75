// Loads the shipped plugin (vault/.obsidian/plugins/llm-vault-outputs/main.js) outside Obsidian.
//
// Obsidian gives a plugin three modules: `obsidian`, `@codemirror/state` and `@codemirror/view`. Here the two
// CodeMirror ones are the real packages (the versions the obsidian package declares as peers), and `obsidian` is
// a stand-in with only what the rendering code reads from it: the two editor state fields, normalizePath and the
// classes the plugin extends. The rendering, the fence reading and the editor decorations under test are the
// plugin's own code; only the Obsidian app around them is absent.
"use strict";
const Module = require("node:module");
const path = require("node:path");
const { JSDOM } = require("jsdom");
const { EditorState, StateField } = require("@codemirror/state");
const { EditorView } = require("@codemirror/view");
const fs = require("node:fs");

const PLUGIN = path.resolve(__dirname, "../../vault/.obsidian/plugins/llm-vault-outputs/main.js");

const host = {
  Plugin: class { constructor(app) { this.app = app; } },
  PluginSettingTab: class {},
  Setting: class {},
  Notice: class {},
  MarkdownView: class {},
  FileSystemAdapter: class {},
  Platform: { isDesktopApp: false, isMobile: true },
  normalizePath: (p) => p.replace(/\\/g, "/").replace(/\/+/g, "/").replace(/^\/|\/$/g, ""),
  // an editor's file and mode: set per editor state with `.init(...)`
  editorInfoField: StateField.define({ create: () => ({ file: null }), update: (v) => v }),
  editorLivePreviewField: StateField.define({ create: () => true, update: (v) => v }),
};

const codemirror = { "@codemirror/state": require.resolve("@codemirror/state"),
  "@codemirror/view": require.resolve("@codemirror/view") }; // one copy of each, from this folder
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  return codemirror[request] || resolve.call(this, request, parent, ...rest);
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return request === "obsidian" ? host : load.call(this, request, ...rest);
};

const plugin = require(PLUGIN);

/** A browser document to render into. */
function newDocument() {
  return new JSDOM("<!doctype html><html><body></body></html>").window.document;
}

/**
 * A document whose window is also the global one, for CodeMirror's EditorView, which reads `document`,
 * `window` and their observers from the globals as a browser has them.
 */
function globalDocument() {
  const { window } = new JSDOM("<!doctype html><html><body></body></html>", { pretendToBeVisual: true });
  for (const name of ["window", "document", "navigator", "MutationObserver", "requestAnimationFrame",
    "cancelAnimationFrame", "getComputedStyle", "HTMLElement", "Node", "Text", "DOMParser"]) {
    Object.defineProperty(globalThis, name, { value: window[name], configurable: true, writable: true });
  }
  return window.document;
}

/** Figures as the test shows them: Obsidian's adapter.getResourcePath gives an app:// URL of the same path. */
const resourceUrl = (/** @type {string} */ src) => `app://vault/${plugin.OUTPUT_DIR}/${src}`;

/** How a reader sees the notes of `vault` through the plugin, from the files the runner wrote there. @param {string} vault */
function reader(vault) {
  /** @param {string} rel */
  function note(rel) {
    const text = fs.readFileSync(path.join(vault, rel), "utf8");
    const file = path.join(vault, plugin.OUTPUT_DIR, "notes", `${rel}.json`);
    const data = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : null;
    return { text, data, lines: text.split("\n") };
  }

  /**
   * Reading view: the sections Obsidian renders (the title, each code block), each passed to the post-processor's
   * work with the section's lines, as MarkdownPostProcessorContext.getSectionInfo gives them.
   * @param {Document} doc @param {string} rel
   */
  function readingView(doc, rel) {
    const { text, data, lines } = note(rel);
    const root = doc.body.appendChild(doc.createElement("div"));
    const title = lines.findIndex((line) => line.startsWith("# "));
    if (title >= 0) {
      const section = root.appendChild(doc.createElement("div"));
      section.appendChild(doc.createElement("h1")).textContent = lines[title].slice(2);
      plugin.decorateSection(section, { text, lineStart: title, lineEnd: title }, rel, data, resourceUrl, false);
    }
    for (const fence of plugin.findPythonCells(text)) {
      const section = root.appendChild(doc.createElement("div"));
      section.className = "el-pre";
      const code = section.appendChild(doc.createElement("pre")).appendChild(doc.createElement("code"));
      code.className = "language-python";
      code.textContent = fence.source;
      plugin.decorateSection(section, { text, lineStart: fence.open, lineEnd: fence.close }, rel, data, resourceUrl, false);
    }
    return root;
  }

  /** A Live Preview editor on the note, with the plugin's extension. @param {Document} doc @param {string} rel */
  function livePreview(doc, rel, livePreview = true) {
    const { text, data } = note(rel);
    const source = { peek: () => data, version: () => 1, request: () => {}, resourceUrl, canRun: false };
    const field = plugin.outputsField(source);
    const state = EditorState.create({
      doc: text,
      extensions: [host.editorInfoField.init(() => ({ file: { path: rel } })),
        host.editorLivePreviewField.init(() => livePreview), field],
    });
    const view = new EditorView({ state, parent: doc.body });
    /** Every widget of the field, drawn: CodeMirror itself draws only those in its viewport, which jsdom cannot
     * measure. @returns {{line: number, el: HTMLElement}[]} */
    const widgets = () => {
      const found = /** @type {{line: number, el: HTMLElement}[]} */ ([]);
      view.state.field(field).between(0, view.state.doc.length, (from, _to, deco) => {
        found.push({ line: view.state.doc.lineAt(from).number, el: deco.spec.widget.toDOM(view) });
      });
      return found;
    };
    return { view, widgets };
  }

  return { note, readingView, livePreview };
}

module.exports = { plugin, host, newDocument, globalDocument, reader, resourceUrl, PLUGIN };
