// The deal page's move form shows, and sends, only the fields the chosen
// move reads: the loss reason and note for a move to lost, the override
// reason for any other. A field that does not apply is hidden and disabled,
// so the browser leaves it out of the post; the server refuses one that
// still comes (from a page without this script), naming it.
(function () {
  "use strict";

  var target = document.getElementById("move-to");
  if (!target) {
    return;
  }
  var groups = target.form.querySelectorAll(".move-fields");

  function applies(group, to) {
    if (group.dataset.for) {
      return group.dataset.for === to;
    }
    return group.dataset.except !== to;
  }

  function follow() {
    var to = target.value;
    groups.forEach(function (group) {
      var on = applies(group, to);
      group.hidden = !on;
      group.querySelectorAll("input, select, textarea").forEach(function (field) {
        field.disabled = !on;
      });
    });
  }

  target.addEventListener("change", follow);
  follow();
})();
