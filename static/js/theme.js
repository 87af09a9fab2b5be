/* Light, dark or the system's choice, remembered in this browser. Loaded in <head>
   (not deferred) so the page paints in the chosen theme; no inline script (strict CSP). */
(function () {
  "use strict";
  var KEY = "pipewatch-theme";
  var NEXT = { auto: "dark", dark: "light", light: "auto" };
  var root = document.documentElement;

  function stored() {
    try { return localStorage.getItem(KEY) || "auto"; } catch (e) { return "auto"; }
  }
  function apply(theme) {
    if (theme === "auto") { root.removeAttribute("data-theme"); } else { root.setAttribute("data-theme", theme); }
    var button = document.getElementById("theme-toggle");
    if (button) {
      button.textContent = "Theme: " + theme;
      button.setAttribute("aria-label", "Colour theme: " + theme + ". Change to " + NEXT[theme]);
    }
  }
  apply(stored());
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme-toggle");
    if (!button) { return; }
    button.hidden = false;
    apply(stored());
    button.addEventListener("click", function () {
      var theme = NEXT[stored()] || "auto";
      try { localStorage.setItem(KEY, theme); } catch (e) { /* private mode: this page only */ }
      apply(theme);
    });
  });
})();
