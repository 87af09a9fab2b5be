/* Times are rendered in UTC on the server; the hover text adds the reader's own clock.
   Runs again after every htmx swap, so refreshed rows get it too. */
(function () {
  "use strict";
  var zone = (Intl.DateTimeFormat().resolvedOptions().timeZone || "local time");
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit"
  });

  function localize(scope) {
    var times = (scope || document).querySelectorAll("time[datetime]:not([data-local])");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) { continue; }
      var utc = el.getAttribute("title") || "";
      el.setAttribute("title", format.format(when) + " (" + zone + ")" + (utc ? " · " + utc : ""));
      el.setAttribute("data-local", "");
    }
  }
  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  document.addEventListener("htmx:afterSettle", function (event) { localize(event.target); });
})();
