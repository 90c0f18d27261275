#include "cli/flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace cli {
namespace {

using ::testing::HasSubstr;

TEST(FlagSetTest, ParsesEveryForm) {
  std::string addr = "https://127.0.0.1:8200";
  std::string role;
  bool force = false;
  absl::Duration interval = absl::Minutes(1);
  FlagSet flags("vaultca test");
  flags.String("vault-addr", &addr, "Vault");
  flags.String("role", &role, "role");
  flags.Bool("force", &force, "force");
  flags.Duration("interval", &interval, "interval");
  ASSERT_TRUE(flags
                  .Parse({"--vault-addr=https://v:8200", "--role", "istiod",
                          "--force", "--interval=90s", "extra", "--",
                          "--not-a-flag"})
                  .ok());
  EXPECT_EQ(addr, "https://v:8200");
  EXPECT_EQ(role, "istiod");
  EXPECT_TRUE(force);
  EXPECT_EQ(interval, absl::Seconds(90));
  EXPECT_THAT(flags.positional(),
              ::testing::ElementsAre("extra", "--not-a-flag"));
  EXPECT_TRUE(flags.WasSet("role"));
  EXPECT_FALSE(flags.help_requested());
}

TEST(FlagSetTest, RefusesWhatDoesNotParse) {
  std::string s;
  bool b = false;
  absl::Duration d;
  FlagSet flags("x");
  flags.String("s", &s, "");
  flags.Bool("b", &b, "");
  flags.Duration("d", &d, "");
  EXPECT_THAT(std::string(flags.Parse({"--nope=1"}).message()),
              HasSubstr("unknown flag --nope"));
  EXPECT_THAT(std::string(FlagSet("x").Parse({"--s"}).message()),
              HasSubstr("unknown flag"));
  FlagSet f2("x");
  f2.String("s", &s, "");
  EXPECT_THAT(std::string(f2.Parse({"--s"}).message()), HasSubstr("needs a value"));
  EXPECT_THAT(std::string(flags.Parse({"--b=maybe"}).message()),
              HasSubstr("not true or false"));
  EXPECT_THAT(std::string(flags.Parse({"--d=soon"}).message()),
              HasSubstr("not a duration"));
}

TEST(FlagSetTest, HelpListsFlagsWithDefaults) {
  std::string role = "istiod";
  bool once = false;
  FlagSet flags("vaultca sync [flags]\n\nKeeps cacerts in step.");
  flags.String("role", &role, "Vault role");
  flags.Bool("once", &once, "sync once");
  ASSERT_TRUE(flags.Parse({"--role=x", "-h", "--unknown"}).ok());
  EXPECT_TRUE(flags.help_requested());
  const std::string help = flags.Help();
  EXPECT_THAT(help, HasSubstr("Keeps cacerts in step."));
  EXPECT_THAT(help, HasSubstr("--role=VALUE\n      Vault role (default \"istiod\")"));
  EXPECT_THAT(help, HasSubstr("--once\n      sync once (default false)"));
}

}  // namespace
}  // namespace cli
}  // namespace vaultca
