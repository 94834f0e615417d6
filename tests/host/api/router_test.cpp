#include "api/router.hpp"

#include <gtest/gtest.h>

#include "api/problem.hpp"
#include "api/routes.hpp"

namespace crm::host::api {
namespace {

Router sample_router() {
  Router router;
  const auto answer = [](std::string text) {
    return [text](const RouteRequest&) {
      http::Response response;
      response.body = text;
      return response;
    };
  };
  router.add({"GET", "/api/v1/customers", Scope::read, answer("list")});
  router.add({"GET", "/api/v1/customers/{customer}", Scope::read, answer("one")});
  router.add({"POST", "/api/v1/customers/{customer}/follow-ups", Scope::write, answer("follow-up")});
  return router;
}

TEST(ApiRouter, MatchesTemplatesAndDecodesEachSegmentAfterSplitting) {
  const Router router = sample_router();
  const Router::Match list = router.match("GET", "/api/v1/customers");
  ASSERT_NE(list.route, nullptr);
  EXPECT_EQ(list.route->path_template, "/api/v1/customers");

  const Router::Match one = router.match("GET", "/api/v1/customers/erp%3AC%2F100");
  ASSERT_NE(one.route, nullptr);
  ASSERT_EQ(one.params.size(), 1U);
  EXPECT_EQ(one.params[0].first, "customer");
  EXPECT_EQ(one.params[0].second, "erp:C/100");

  EXPECT_NE(router.match("POST", "/api/v1/customers/7/follow-ups").route, nullptr);
  EXPECT_EQ(router.match("GET", "/api/v1/customers/7/extra").route, nullptr);
  EXPECT_EQ(router.match("GET", "/api/v1/customers/").route, nullptr);
  EXPECT_EQ(router.match("GET", "/api/v1/customers/%zz").route, nullptr);
}

TEST(ApiRouter, ReportsTheMethodsAPathAllows) {
  const Router router = sample_router();
  const Router::Match wrong = router.match("DELETE", "/api/v1/customers/7/follow-ups");
  EXPECT_EQ(wrong.route, nullptr);
  EXPECT_EQ(wrong.allowed_methods, std::vector<std::string>{"POST"});
  EXPECT_NE(router.match("HEAD", "/api/v1/customers").route, nullptr);
}

TEST(ApiRouter, ScopesIncludeTheLowerOnes) {
  EXPECT_TRUE(grants(Scope::admin, Scope::write));
  EXPECT_TRUE(grants(Scope::write, Scope::read));
  EXPECT_FALSE(grants(Scope::read, Scope::write));
  EXPECT_FALSE(grants(Scope::none, Scope::read));
  EXPECT_EQ(parse_scope("write"), Scope::write);
  EXPECT_EQ(parse_scope("root"), std::nullopt);
}

TEST(ApiRouter, PercentDecodingRefusesTruncatedEscapes) {
  EXPECT_EQ(percent_decode("a%20b"), "a b");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("a%2"), std::nullopt);
  EXPECT_EQ(percent_decode("%"), std::nullopt);
}

TEST(ApiTimes, ParsesRfc3339AndDates) {
  EXPECT_EQ(parse_time_ms("1970-01-02", "at"), 86'400'000);
  EXPECT_EQ(parse_time_ms("1970-01-01T08:00:00+08:00", "at"), 0);
  EXPECT_EQ(parse_time_ms("1970-01-01T00:00:01.5Z", "at"), 1'500);
  EXPECT_EQ(parse_time_ms("1970-01-01T00:00:00-01:30", "at"), 5'400'000);
  for (const char* bad : {"", "2026-13-01", "2026-02-30", "2026-11-30T25:00:00Z", "2026-11-30T10:00:00",
                          "2026-11-30T10:00:00+0800", "yesterday"}) {
    EXPECT_THROW(parse_time_ms(bad, "at"), ApiError) << bad;
  }
}

}  // namespace
}  // namespace crm::host::api
