// Hyphenated terms in search queries: `top-p`, `KV-cache`. The index splits words at `-` (mkdocs.yml's search
// `separator`), but lunr's query parser reads a `-` inside a word as "must not contain" and Material's worker logs
// "Invalid query", finding nothing. Material has no hook for its query, so the message to its search worker is
// rewritten: `top-p` becomes `+top +p` (both parts required), which matches how the page text was indexed.
(function () {
  "use strict";
  var QUERY = 2;  // Material's SearchMessageType.QUERY

  function rewrite(query) {
    return query.split(/\s+/).map(function (word) {
      if (!/[^\s-]-[^\s-]/.test(word)) return word.replace(/-+$/, "");  // a trailing `-` while typing
      var sign = /^[+-]/.test(word) ? word[0] : "+";
      return word.replace(/^[+-]/, "").split(/-+/).filter(Boolean)
                 .map(function (part) { return sign + part; }).join(" ");
    }).join(" ");
  }

  function patch(proto) {
    if (!proto || proto.postMessage.llmVault) return;
    var post = proto.postMessage;
    proto.postMessage = function (message) {
      if (message && message.type === QUERY && typeof message.data === "string")
        message = { type: QUERY, data: rewrite(message.data) };
      return post.apply(this, [message].concat([].slice.call(arguments, 1)));
    };
    proto.postMessage.llmVault = true;
  }

  patch(window.Worker && window.Worker.prototype);  // on file:// this is iframe-worker's shim
  window.LLMVaultSearchQuery = rewrite;
})();
