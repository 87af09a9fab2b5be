/* Live regions ([data-poll-every]) refresh on their htmx "every" trigger while the tab is
   visible; while it is hidden they refresh at most once a minute, and they refresh at once
   when the reader comes back to a stale page. */
(function () {
  "use strict";
  var HIDDEN_EVERY_MS = 60000;
  var last = new WeakMap();

  function seconds(value) {
    var n = parseFloat(value);
    return isNaN(n) ? 5 : n;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var el = event.detail.elt;
    if (!el || !el.hasAttribute || !el.hasAttribute("data-poll-every")) { return; }
    var previous = last.get(el) || 0;
    if (document.hidden && Date.now() - previous < HIDDEN_EVERY_MS) {
      event.preventDefault();  // hidden tab: skip this beat
    }
    var focused = document.activeElement;
    if (focused && el.contains(focused) && focused.matches("input, select, textarea")) {
      event.preventDefault();  // someone is typing a note or choosing: do not swap it away
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var el = event.target;  // after an outerHTML swap: the new element
    if (el && el.hasAttribute && el.hasAttribute("data-poll-every")) { last.set(el, Date.now()); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var el = event.detail.elt;  // a 204 "nothing changed" is a fresh look too, with no swap
    if (el && el.hasAttribute && el.hasAttribute("data-poll-every") && event.detail.successful) { last.set(el, Date.now()); }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden || !window.htmx) { return; }
    var live = document.querySelectorAll("[data-poll-every]");
    for (var i = 0; i < live.length; i++) {
      var el = live[i];
      var every = seconds(el.getAttribute("data-poll-every")) * 1000;
      if (Date.now() - (last.get(el) || 0) > every) { window.htmx.trigger(el, "pw:refresh"); }
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var live = document.querySelectorAll("[data-poll-every]");
    for (var i = 0; i < live.length; i++) { last.set(live[i], Date.now()); }
  });
})();
