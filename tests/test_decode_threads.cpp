// VLM_TEST_LABELS: fast
// The decoding fast path: split matrix-vector products equal LibTorch's, inside and outside a
// TokenDecodingScope, and the scope restores the thread count.
#include "testing.h"

#include "runtime/decode_threads.h"

using namespace vlm;

class TestDecodeThreads : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void splitGemvEqualsAddmv_data() {
    QTest::addColumn<int>("rows");
    QTest::addColumn<int>("cols");
    QTest::addColumn<bool>("withBias");
    QTest::newRow("odd rows") << 3073 << 768 << true;
    QTest::newRow("small (not split)") << 100 << 37 << true;
    QTest::newRow("no bias") << 1024 << 512 << false;
  }
  void splitGemvEqualsAddmv() {
    QFETCH(int, rows);
    QFETCH(int, cols);
    QFETCH(bool, withBias);
    const at::Tensor w = at::randn({rows, cols}), x = at::randn({cols}), b = at::randn({rows});
    const at::Tensor want = withBias ? at::addmv(b, w, x) : at::mv(w, x);
    for (bool scoped : {false, true}) {
      std::optional<runtime::TokenDecodingScope> scope;
      if (scoped) scope.emplace();
      at::Tensor y = at::full({rows}, std::nanf(""));
      QVERIFY(runtime::splitGemv(w.data_ptr<float>(), x.data_ptr<float>(), withBias ? b.data_ptr<float>() : nullptr,
                                 y.data_ptr<float>(), rows, cols));
      VLM_COMPARE_TENSORS(y, want, 1e-4, 1e-5, scoped ? "split" : "unsplit");
    }
  }

  void scopeRunsLibTorchOnOneThreadAndRestores() {
    const int before = at::get_num_threads();
    {
      runtime::TokenDecodingScope scope;
      QVERIFY(runtime::TokenDecodingScope::active());
      QCOMPARE(at::get_num_threads(), 1);
      {
        runtime::TokenDecodingScope nested;
        QCOMPARE(at::get_num_threads(), 1);
      }
      QVERIFY(runtime::TokenDecodingScope::active());
    }
    QVERIFY(!runtime::TokenDecodingScope::active());
    QCOMPARE(at::get_num_threads(), before);
  }

  void runPairRunsBoth() {
    runtime::TokenDecodingScope scope;
    std::atomic<int> a{0}, b{0};
    for (int i = 0; i < 1000; ++i) runtime::runPair([&] { ++a; }, [&] { ++b; });
    QCOMPARE(a.load(), 1000);
    QCOMPARE(b.load(), 1000);
  }
};

QTEST_GUILESS_MAIN(TestDecodeThreads)
#include "test_decode_threads.moc"
