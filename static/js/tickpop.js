/* Strip ticks ([data-tick]) explain themselves in a small popover: on hover, on keyboard
   focus and on a first tap (a second tap, or Enter, opens the run). Escape closes it.
   The popover is one element, re-filled per tick, so htmx swaps cannot leave strays. */
(function () {
  "use strict";
  var pop = null, owner = null, tapped = null;  // tapped: the tick a first tap explained
  var FIELDS = [["when", "When"], ["state", "State"], ["duration", "Duration"], ["counts", "Counts"], ["message", "Message"]];

  function ensure() {
    if (pop) { return pop; }
    pop = document.createElement("div");
    pop.id = "tick-pop";
    pop.className = "tick-pop";
    pop.setAttribute("role", "tooltip");
    pop.hidden = true;
    document.body.appendChild(pop);
    return pop;
  }
  function fill(tick) {
    var el = ensure();
    el.textContent = "";
    var dl = document.createElement("dl");
    FIELDS.forEach(function (pair) {
      var value = tick.getAttribute("data-" + pair[0]);
      if (!value) { return; }
      var dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = pair[1];
      dd.textContent = value;
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
    el.appendChild(dl);
    var link = document.createElement("a");
    link.href = tick.getAttribute("href");
    link.textContent = "Open run →";
    el.appendChild(link);
  }
  function show(tick) {
    if (tick.hasAttribute("title")) { tick.removeAttribute("title"); }  // no native tooltip on top
    fill(tick);
    var el = ensure(), box = tick.getBoundingClientRect();
    el.hidden = false;
    var left = window.scrollX + box.left + box.width / 2 - el.offsetWidth / 2;
    var maxLeft = window.scrollX + document.documentElement.clientWidth - el.offsetWidth - 4;
    el.style.left = Math.max(window.scrollX + 4, Math.min(left, maxLeft)) + "px";
    el.style.top = (window.scrollY + box.bottom + 6) + "px";
    tick.setAttribute("aria-describedby", "tick-pop");
    owner = tick;
  }
  function hide() {
    if (pop) { pop.hidden = true; }
    if (owner) { owner.removeAttribute("aria-describedby"); }
    owner = null;
    tapped = null;
  }
  function tickOf(target) {
    return target && target.closest ? target.closest("[data-tick]") : null;
  }
  var lastPointer = "mouse";
  document.addEventListener("pointerdown", function (e) {
    lastPointer = e.pointerType;
    if (pop && !pop.contains(e.target) && !tickOf(e.target)) { hide(); }
  });
  document.addEventListener("click", function (e) {
    var tick = tickOf(e.target);
    if (!tick || lastPointer !== "touch") { return; }
    if (tapped !== tick) {  // first tap explains (a tap also focuses it), the second follows the link
      e.preventDefault();
      show(tick);
      tapped = tick;
    }
  });
  document.addEventListener("mouseover", function (e) {
    var tick = tickOf(e.target);
    if (tick && lastPointer === "mouse") { show(tick); }
  });
  document.addEventListener("mouseout", function (e) {
    var tick = tickOf(e.target);
    if (tick && owner === tick && !(e.relatedTarget && pop && pop.contains(e.relatedTarget))) { hide(); }
  });
  document.addEventListener("focusin", function (e) {
    var tick = tickOf(e.target);
    if (tick) { show(tick); } else if (!(pop && pop.contains(e.target))) { hide(); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && owner) { hide(); }
  });
  document.addEventListener("htmx:beforeSwap", function () { hide(); });
})();
