/* Times are rendered on the server in the reader's zone (dashboard/timezones.py). This
   tells the server the browser's zone, in a cookie, for people with no zone of their own
   set; the hover text of each time keeps UTC beside the local time. */
(function () {
  "use strict";
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  // IANA names (Area/City, Etc/GMT+5) are cookie-safe as they are; anything else is not sent.
  if (zone && /^[A-Za-z0-9_+\/-]+$/.test(zone) && document.cookie.indexOf("pw_tz=" + zone) === -1) {
    document.cookie = "pw_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
  }
  var utc = new Intl.DateTimeFormat("en-GB", {
    timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"
  });

  function annotate(scope) {
    var times = (scope || document).querySelectorAll("time[datetime][title]:not([data-utc])");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime()) || / UTC$/.test(el.getAttribute("title"))) { continue; }
      el.setAttribute("title", el.getAttribute("title") + " · " + utc.format(when) + " UTC");
      el.setAttribute("data-utc", "");
    }
  }
  document.addEventListener("DOMContentLoaded", function () { annotate(document); });
  document.addEventListener("htmx:afterSettle", function (event) { annotate(event.target); });
})();
