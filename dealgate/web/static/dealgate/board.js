// Drag a card to another column to move the deal there. The server decides:
// the move goes through the same gates as every other door, and a refusal is
// shown in words while the card stays where it was. Without JavaScript, or
// from the keyboard, the deal page's move form does the same.
(function () {
  "use strict";

  var board = document.querySelector(".board[data-csrf]");
  var message = document.getElementById("board-message");
  if (!board || !message) {
    return;
  }
  var dragged = null;

  function show(text, reasons) {
    message.textContent = "";
    var line = document.createElement("p");
    line.textContent = text;
    message.appendChild(line);
    if (reasons && reasons.length > 1) {
      var list = document.createElement("ul");
      reasons.forEach(function (reason) {
        var item = document.createElement("li");
        item.textContent = reason;
        list.appendChild(item);
      });
      message.appendChild(list);
    }
    message.hidden = false;
  }

  // Delegated, so cards loaded later into a column ("and 30 more") drag too.
  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".card[data-deal]");
    if (!card) {
      return;
    }
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    // Some browsers start no drag unless some data is set.
    event.dataTransfer.setData("text/plain", card.dataset.deal);
  });

  board.addEventListener("dragend", function () {
    if (dragged) {
      dragged.classList.remove("dragging");
    }
    board.querySelectorAll(".column.drop-target").forEach(function (column) {
      column.classList.remove("drop-target");
    });
  });

  board.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".column");
    if (!dragged || !column) {
      return;
    }
    // Without preventDefault the browser refuses the drop.
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("drop-target");
  });

  board.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".column");
    if (column && !column.contains(event.relatedTarget)) {
      column.classList.remove("drop-target");
    }
  });

  board.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".column");
    var card = dragged;
    dragged = null;
    if (!card || !column) {
      return;
    }
    event.preventDefault();
    column.classList.remove("drop-target");
    if (column.contains(card)) {
      return;
    }
    move(card, column.dataset.stage);
  });

  function move(card, stage) {
    var body = new FormData();
    body.append("to", stage);
    body.append("version", card.dataset.version);
    card.setAttribute("aria-busy", "true");
    fetch(card.dataset.moveUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": board.dataset.csrf },
    })
      .then(function (response) {
        return response.json().then(function (data) {
          return { status: response.status, data: data };
        }, function () {
          return { status: response.status, data: {} };
        });
      })
      .then(function (result) {
        card.removeAttribute("aria-busy");
        if (result.data.ok) {
          // Counts, totals and ages all change with a move: redraw the board.
          window.location.reload();
          return;
        }
        show(
          result.data.message || "The move failed (" + result.status + ").",
          result.data.unmet
        );
      })
      .catch(function () {
        card.removeAttribute("aria-busy");
        show("The move could not be sent; check the connection and try again.");
      });
  }
})();
