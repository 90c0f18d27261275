#ifndef VAULTCA_CA_SOURCES_TESTING_MATERIAL_SOURCE_CONFORMANCE_H_
#define VAULTCA_CA_SOURCES_TESTING_MATERIAL_SOURCE_CONFORMANCE_H_

// The conformance suite every MaterialSource must pass. A source's test
// defines a Harness and instantiates the suite:
//
//   INSTANTIATE_TYPED_TEST_SUITE_P(Files, MaterialSourceConformanceTest,
//                                  ::testing::Types<FilesHarness>);
//
// A Harness is default-constructible into a fresh, populated backend (temp
// directory, fake server, ...) and provides:
//
//   // True when SetChangeCallback must report Rotate() by itself.
//   static constexpr bool kReportsChanges;
//   // A source over the backend, as a fresh process would build it.
//   std::unique_ptr<MaterialSource> NewSource();
//   // The time the backend's material is meant to be valid at (a fake
//   // clock the harness controls, or absl::Now()).
//   absl::Time Now();
//   // Makes the backend hold different valid material, as an operator's
//   // rotation would (may advance Now()).
//   absl::Status Rotate();
//   // Puts broken material in the backend.
//   absl::Status InstallBad(BadMaterial kind);
//   // The signing cert's expiry of the material the backend holds (after a
//   // Rotate, of the rotated material once fetched).
//   absl::Time ExpectedNotAfter();

#include <atomic>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "ca/sources/material_source.h"
#include "ca/sources/testing/conformance_checks.h"

namespace vaultca {
namespace ca {
namespace testing {

template <typename Harness>
class MaterialSourceConformanceTest : public ::testing::Test {
 protected:
  Harness harness_;
};

TYPED_TEST_SUITE_P(MaterialSourceConformanceTest);

TYPED_TEST_P(MaterialSourceConformanceTest, LoadsMaterialThatSignsAndVerifies) {
  std::unique_ptr<MaterialSource> source = this->harness_.NewSource();
  ASSERT_NE(source, nullptr);
  absl::StatusOr<CaMaterialPem> material = source->Fetch();
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_FALSE(material->root_bundle_pem.empty());
  EXPECT_TRUE(ServesValidMaterial(*material, this->harness_.Now()).ok())
      << ServesValidMaterial(*material, this->harness_.Now());
  const std::string description = source->Description();
  EXPECT_FALSE(description.empty());
  EXPECT_THAT(description, ::testing::Not(::testing::HasSubstr("PRIVATE")));
}

TYPED_TEST_P(MaterialSourceConformanceTest, RepeatedFetchIsStable) {
  std::unique_ptr<MaterialSource> source = this->harness_.NewSource();
  absl::StatusOr<CaMaterialPem> first = source->Fetch();
  absl::StatusOr<CaMaterialPem> second = source->Fetch();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(SameMaterial(*first, *second));
}

TYPED_TEST_P(MaterialSourceConformanceTest, RestartServesTheSameMaterial) {
  absl::StatusOr<CaMaterialPem> before = this->harness_.NewSource()->Fetch();
  absl::StatusOr<CaMaterialPem> after = this->harness_.NewSource()->Fetch();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(SerialOf(*before, this->harness_.Now()),
            SerialOf(*after, this->harness_.Now()));
}

TYPED_TEST_P(MaterialSourceConformanceTest, RotationIsPickedUpByTheSameSource) {
  std::unique_ptr<MaterialSource> source = this->harness_.NewSource();
  absl::StatusOr<CaMaterialPem> before = source->Fetch();
  ASSERT_TRUE(before.ok()) << before.status();
  const std::string old_serial = SerialOf(*before, this->harness_.Now());

  ASSERT_TRUE(this->harness_.Rotate().ok());
  absl::StatusOr<CaMaterialPem> after = source->Fetch();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE(SerialOf(*after, this->harness_.Now()), old_serial);
  EXPECT_TRUE(ServesValidMaterial(*after, this->harness_.Now()).ok())
      << ServesValidMaterial(*after, this->harness_.Now());
}

TYPED_TEST_P(MaterialSourceConformanceTest, ReportsExpiry) {
  for (int round = 0; round < 2; ++round) {
    absl::StatusOr<CaMaterialPem> material =
        this->harness_.NewSource()->Fetch();
    ASSERT_TRUE(material.ok()) << material.status();
    auto bundle = KeyCertBundle::Create(*material, this->harness_.Now());
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    EXPECT_LE(absl::AbsDuration((*bundle)->not_after() -
                                this->harness_.ExpectedNotAfter()),
              absl::Seconds(1))
        << "round " << round << ": got "
        << absl::FormatTime((*bundle)->not_after()) << ", expected "
        << absl::FormatTime(this->harness_.ExpectedNotAfter());
    EXPECT_GT((*bundle)->TimeToExpiry(this->harness_.Now()),
              absl::ZeroDuration());
    ASSERT_TRUE(this->harness_.Rotate().ok());
  }
}

TYPED_TEST_P(MaterialSourceConformanceTest, GarbageCertIsNeverServedAsValid) {
  std::unique_ptr<MaterialSource> running = this->harness_.NewSource();
  ASSERT_TRUE(running->Fetch().ok());
  ASSERT_TRUE(this->harness_.InstallBad(BadMaterial::kGarbageCert).ok());
  ExpectRejected(running->Fetch(), this->harness_.Now(), "running source");
  ExpectRejected(this->harness_.NewSource()->Fetch(), this->harness_.Now(),
                 "restarted source");
}

TYPED_TEST_P(MaterialSourceConformanceTest, MismatchedKeyIsNeverServedAsValid) {
  std::unique_ptr<MaterialSource> running = this->harness_.NewSource();
  ASSERT_TRUE(running->Fetch().ok());
  ASSERT_TRUE(this->harness_.InstallBad(BadMaterial::kMismatchedKey).ok());
  ExpectRejected(running->Fetch(), this->harness_.Now(), "running source");
  ExpectRejected(this->harness_.NewSource()->Fetch(), this->harness_.Now(),
                 "restarted source");
}

TYPED_TEST_P(MaterialSourceConformanceTest, ChangeCallbackFollowsTheContract) {
  std::unique_ptr<MaterialSource> source = this->harness_.NewSource();
  ASSERT_TRUE(source->Fetch().ok());
  auto calls = std::make_shared<std::atomic<int>>(0);
  absl::Status status = source->SetChangeCallback([calls] { ++*calls; });
  if (!TypeParam::kReportsChanges) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented) << status;
    return;
  }
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_TRUE(this->harness_.Rotate().ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (calls->load() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_GT(calls->load(), 0) << "no change reported within 10 s of a rotation";

  // After removal returns, the old callback is never called again.
  ASSERT_TRUE(source->SetChangeCallback(nullptr).ok());
  const int seen = calls->load();
  ASSERT_TRUE(this->harness_.Rotate().ok());
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(calls->load(), seen);
}

REGISTER_TYPED_TEST_SUITE_P(MaterialSourceConformanceTest,
                            LoadsMaterialThatSignsAndVerifies,
                            RepeatedFetchIsStable, RestartServesTheSameMaterial,
                            RotationIsPickedUpByTheSameSource, ReportsExpiry,
                            GarbageCertIsNeverServedAsValid,
                            MismatchedKeyIsNeverServedAsValid,
                            ChangeCallbackFollowsTheContract);

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_TESTING_MATERIAL_SOURCE_CONFORMANCE_H_
