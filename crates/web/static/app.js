// promrules UI: the few lines htmx does not cover. Every page works without them.
"use strict";
document.documentElement.classList.add("js");

document.addEventListener("click", (event) => {
  // "Add a row" under a key/value editor: copy the last row, emptied.
  const add = event.target.closest("[data-add-row]");
  if (add) {
    const rows = document.getElementById(add.dataset.addRow);
    const last = rows && rows.lastElementChild;
    if (last) {
      const row = last.cloneNode(true);
      row.querySelectorAll("input").forEach((input) => { input.value = ""; });
      rows.appendChild(row);
      row.querySelector("input").focus();
    }
  }
  // "Remove" beside a key/value row: empty it (an empty key is dropped on save).
  const remove = event.target.closest("[data-remove-row]");
  if (remove) {
    const row = remove.closest(".kv-row");
    row.querySelectorAll("input").forEach((input) => { input.value = ""; });
    row.hidden = true;
    row.closest("form").dispatchEvent(new Event("input", { bubbles: true }));
  }
});

document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
