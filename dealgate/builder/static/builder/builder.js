// Show only the fields of the kind of criterion chosen. Without this script
// every kind's fields are shown, and the server reads those of the kind chosen.
document.querySelectorAll("form[data-criterion]").forEach((form) => {
  const kind = form.querySelector("select[name$='-kind']");
  const show = () => {
    form.querySelectorAll("fieldset[data-kind]").forEach((set) => {
      set.hidden = set.dataset.kind !== kind.value;
    });
  };
  kind.addEventListener("change", show);
  show();
});
