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
const { StateField } = require("@codemirror/state");

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

module.exports = { plugin, host, newDocument, globalDocument, PLUGIN };
