// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // After a refused form, move focus to the list of errors so screen readers read it first.
  var summary = document.getElementById("hata-ozeti");
  if (summary) { summary.focus(); }

  // Live character count for <textarea data-count="id-of-output">.
  document.querySelectorAll("textarea[data-count]").forEach(function (area) {
    var out = document.getElementById(area.getAttribute("data-count"));
    var max = parseInt(area.getAttribute("maxlength") || "0", 10);
    if (!out) return;
    var update = function () {
      out.textContent = area.value.length + " / " + max + " karakter";
    };
    area.addEventListener("input", update);
    update();
  });

  // Countdown for <span data-countdown="seconds">: "2 dk 59 sn", and enables the button named in
  // data-enables once it reaches zero (the server checks the time again in any case).
  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    var left = parseInt(el.getAttribute("data-countdown"), 10);
    var target = el.getAttribute("data-enables");
    var done = el.getAttribute("data-done") || "";
    var suffix = el.getAttribute("data-suffix") || "";
    var button = target ? document.getElementById(target) : null;
    var show = function () {
      if (left <= 0) {
        el.textContent = done;
        if (button) { button.removeAttribute("aria-disabled"); button.disabled = false; }
        return false;
      }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = (m > 0 ? m + " dk " : "") + s + " sn" + suffix;
      return true;
    };
    if (button && left > 0) { button.disabled = true; }
    if (!show()) return;
    var timer = setInterval(function () {
      left -= 1;
      if (!show()) clearInterval(timer);
    }, 1000);
  });

  // A second click on a submit button while the page is sending does nothing (the server also
  // deduplicates with the form's one-time token).
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  });
})();
