// Filters apply as soon as one is changed (the form still has a button
// for browsers without scripts).
document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
  select.addEventListener("change", function () { select.form.submit(); });
});
