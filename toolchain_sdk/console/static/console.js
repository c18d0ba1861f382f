// toolchain console: live inbox updates (polling) and countdowns. No inline script, no CDN.
(function () {
  "use strict";

  function secondsLeft(card) {
    var expires = Date.parse(card.getAttribute("data-expires"));
    return Math.max(0, Math.floor((expires - Date.now()) / 1000));
  }

  function tick() {
    document.querySelectorAll("article.request[data-status='pending'] .left").forEach(function (el) {
      var card = el.closest("article.request");
      var left = secondsLeft(card);
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = left > 0 ? (m > 0 ? m + " min " : "") + s + " s left" : "expired";
      if (left === 0) { card.classList.add("expired"); }
    });
  }

  // Merge the server's list into the page: new requests appear, gone ones disappear, and a card
  // already shown is kept as it is (a reason being typed is never lost).
  function merge(fresh) {
    var current = document.getElementById("requests");
    if (!current || !fresh) { return; }
    var kept = {};
    current.querySelectorAll("article.request").forEach(function (card) { kept[card.getAttribute("data-id")] = card; });
    var order = [];
    fresh.querySelectorAll("article.request").forEach(function (card) {
      var id = card.getAttribute("data-id");
      order.push(kept[id] || document.importNode(card, true));
      delete kept[id];
    });
    Object.keys(kept).forEach(function (id) {
      var card = kept[id];
      if (!card.contains(document.activeElement)) { card.remove(); }
      else { order.push(card); }
    });
    var empty = current.querySelector(".empty, .note");
    if (empty) { empty.remove(); }
    order.forEach(function (card) { current.appendChild(card); });
    if (order.length === 0) {
      var fromServer = fresh.querySelector(".empty, .note");
      if (fromServer) { current.appendChild(document.importNode(fromServer, true)); }
    }
    current.setAttribute("data-count", String(order.length));
    tick();
  }

  function poll() {
    fetch("/inbox/rows", { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401) { window.location.assign("/"); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || html === undefined) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        merge(doc.getElementById("requests"));
      })
      .catch(function () { /* the next poll tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
    if (document.getElementById("requests") && window.location.pathname === "/inbox") {
      var every = parseInt(document.body.getAttribute("data-poll-ms"), 10) || 2000;
      window.setInterval(poll, every);
    }
  });
})();
