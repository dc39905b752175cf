#pragma once
// Shared by the window tests: the tiny captioning fixture as a start, and waiting for the caption.
#include <QSignalSpy>
#include <QString>

#include "main_window.h"
#include "testing.h"

namespace vlm::test {

inline QString fixture(const std::string& relative) { return QString::fromStdString(dataPath(relative).string()); }

// The tiny captioning fixture and the astronaut image.
inline ui::StartOptions fixtureStart() {
  ui::StartOptions o;
  o.modelPath = fixture("blip-caption-tiny");
  o.imagePath = fixture("images/astronaut.png");
  return o;
}

// Shows the window and waits until its caption is there.
inline bool showAndWaitForCaption(ui::MainWindow& w) {
  w.show();
  QSignalSpy ready(&w, &ui::MainWindow::captionReady);
  return ready.wait(60000);
}

// Shows the window and waits until its captioning model is loaded.
inline bool showAndWaitForModel(ui::MainWindow& w) {
  w.show();
  QSignalSpy model(&w, &ui::MainWindow::modelReady);
  return model.wait(60000);
}

}  // namespace vlm::test
