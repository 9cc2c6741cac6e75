// The vault's page scripts. The graph is graph.js (on the vendored force-graph), hover previews preview.js,
// search query handling search.js.
