// Live updates: the server says what changed over Server-Sent Events and
// each live region fetches its fresh HTML (rendered and escaped by the
// server). No polling: nothing is fetched until something changes.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
  var pending = new Map();

  function refresh(el) {
    if (pending.has(el)) { pending.get(el).again = true; return; }
    var state = { again: false };
    pending.set(el, state);
    fetch(el.getAttribute("data-src"), { headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) {
          // Keep open <details> open across the update.
          var open = Array.prototype.map.call(el.querySelectorAll("details[open] > summary"), function (s) { return s.textContent; });
          el.innerHTML = html;
          Array.prototype.forEach.call(el.querySelectorAll("details > summary"), function (s) {
            if (open.indexOf(s.textContent) >= 0) { s.parentElement.open = true; }
          });
        }
      })
      .catch(function () {})
      .finally(function () {
        // At most about four refreshes a second per region, whatever the rate of events.
        setTimeout(function () {
          var again = state.again;
          pending.delete(el);
          if (again) { refresh(el); }
        }, 250);
      });
  }

  if (!window.EventSource || regions.length === 0) { return; }
  var source = new EventSource("/events");
  source.onopen = function () { status.textContent = "live"; };
  source.onerror = function () { status.textContent = "reconnecting…"; };
  ["runs", "requests", "invocations", "build", "s3"].forEach(function (kind) {
    source.addEventListener(kind, function () {
      regions.forEach(function (el) {
        if (el.getAttribute("data-live").split(" ").indexOf(kind) >= 0) { refresh(el); }
      });
    });
  });
}());
