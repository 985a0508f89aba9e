// TLS, mutual TLS and the bearer token through the real server, with certificates made by `openssl` for each run:
// a CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a client certificate from an
// unrelated CA.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/fovea_client.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_images.h"

namespace fovea::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kOpenssl[] = "/usr/bin/openssl";
constexpr char kToken[] = "s3cret-token_for.tests";

std::string ReadText(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

void WriteText(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Runs openssl with `args`; fails the test with its stderr when it fails.
void Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kOpenssl};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult result = RunCommand(argv);
  ASSERT_EQ(result.exit_code, 0) << "openssl " << args[0] << ": " << result.err;
}

// A self-signed CA `<dir>/<name>.pem` with key `<dir>/<name>.key`.
void MakeCa(const fs::path& dir, const std::string& name) {
  Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           (dir / (name + ".key")).string(), "-out", (dir / (name + ".pem")).string(), "-days", "2", "-subj",
           "/CN=" + name});
}

// `<dir>/<name>.pem` and `.key`, signed by the CA `ca`, with the X.509 v3 `extensions` (one per line).
void MakeSigned(const fs::path& dir, const std::string& name, const std::string& ca, const std::string& extensions) {
  const std::string csr = (dir / (name + ".csr")).string();
  const std::string ext = (dir / (name + ".ext")).string();
  Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           (dir / (name + ".key")).string(), "-out", csr, "-subj", "/CN=" + name});
  WriteText(ext, extensions);
  Openssl({"x509", "-req", "-in", csr, "-CA", (dir / (ca + ".pem")).string(), "-CAkey", (dir / (ca + ".key")).string(),
           "-CAcreateserial", "-out", (dir / (name + ".pem")).string(), "-days", "2", "-extfile", ext});
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(MakeTempDir());
    MakeCa(*dir_, "ca");
    MakeSigned(*dir_, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    MakeSigned(*dir_, "client", "ca", "extendedKeyUsage=clientAuth\n");
    MakeCa(*dir_, "stranger-ca");
    MakeSigned(*dir_, "stranger", "stranger-ca", "extendedKeyUsage=clientAuth\n");
    WriteText(*dir_ / "token", std::string(kToken) + "\n");
    WriteText(*dir_ / "wrong-token", "not-the-token\n");
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  static std::string File(const std::string& name) { return (*dir_ / name).string(); }

  // Client options trusting our CA, optionally with the client certificate `client` and a bearer token.
  static client::ClientOptions Trusting(const std::string& client = "", const std::string& token = "") {
    client::ClientOptions options;
    options.timeout = std::chrono::seconds(10);
    options.tls_root_certs = ReadText(File("ca.pem"));
    if (!client.empty()) {
      options.tls_cert_chain = ReadText(File(client + ".pem"));
      options.tls_private_key = ReadText(File(client + ".key"));
    }
    options.bearer_token = token;
    return options;
  }

  void StartServer(std::vector<std::string> extra_args, const client::ClientOptions& probe) {
    std::vector<std::string> args = {"--tls-cert", File("server.pem"), "--tls-key", File("server.key")};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    server_ = ServerProcess::Start(args, probe);
    ASSERT_NE(server_, nullptr);
  }

  grpc::Status Classify(const client::ClientOptions& options) const {
    const auto client = client::FoveaClient::Connect(server_->address(), options);
    v1::ClassifyRequest request = TinyRequest();
    *request.add_images() = EncodedImage(GrayPng(kTinySize, 1));
    v1::ClassifyResponse response;
    grpc::Status status = client->Classify(request, &response);
    if (status.ok() && response.results_size() != 1) status = grpc::Status(grpc::StatusCode::INTERNAL, "no result");
    return status;
  }

  static fs::path* dir_;
  std::unique_ptr<ServerProcess> server_;
};

fs::path* SecurityTest::dir_ = nullptr;

client::ClientOptions Plaintext() {
  client::ClientOptions options;
  options.timeout = std::chrono::seconds(5);
  return options;
}

TEST_F(SecurityTest, TlsHandshakeAndClassifyWorkAndPlaintextClientsFail) {
  ASSERT_NO_FATAL_FAILURE(StartServer({}, Trusting()));
  const grpc::Status secure = Classify(Trusting());
  EXPECT_TRUE(secure.ok()) << secure.error_message();
  EXPECT_EQ(Classify(Plaintext()).error_code(), grpc::StatusCode::UNAVAILABLE);
  client::ClientOptions other_ca = Plaintext();
  other_ca.tls_root_certs = ReadText(File("stranger-ca.pem"));
  EXPECT_EQ(Classify(other_ca).error_code(), grpc::StatusCode::UNAVAILABLE) << "a server the client cannot verify";
  const CommandResult cli = RunCli({"health", "--server", server_->address(), "--tls-ca", File("ca.pem")});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(RunCli({"health", "--server", server_->address()}).exit_code, 1);
  EXPECT_NE(server_->Log().find("(TLS)"), std::string::npos) << server_->Log();
}

TEST_F(SecurityTest, MutualTlsRequiresAClientCertificateFromTheClientCa) {
  ASSERT_NO_FATAL_FAILURE(StartServer({"--tls-client-ca", File("ca.pem")}, Trusting("client")));
  const grpc::Status with_cert = Classify(Trusting("client"));
  EXPECT_TRUE(with_cert.ok()) << with_cert.error_message();
  EXPECT_EQ(Classify(Trusting()).error_code(), grpc::StatusCode::UNAVAILABLE) << "no client certificate";
  EXPECT_EQ(Classify(Trusting("stranger")).error_code(), grpc::StatusCode::UNAVAILABLE)
      << "a client certificate from another CA";
  const CommandResult cli = RunCli({"models", "--server", server_->address(), "--tls-ca", File("ca.pem"), "--tls-cert",
                                    File("client.pem"), "--tls-key", File("client.key")});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("tiny"), std::string::npos) << cli.out;
}

TEST_F(SecurityTest, BearerTokenIsRequiredEverywhereButHealth) {
  ASSERT_NO_FATAL_FAILURE(StartServer({"--auth-token-file", File("token")}, Trusting()));
  const grpc::Status right = Classify(Trusting("", kToken));
  EXPECT_TRUE(right.ok()) << right.error_message();
  const grpc::Status missing = Classify(Trusting());
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(missing.error_message().find("missing bearer token"), std::string::npos) << missing.error_message();
  for (const std::string& wrong :
       std::vector<std::string>{"not-the-token", std::string(kToken) + "x", std::string(kToken).substr(1), "a"}) {
    const grpc::Status status = Classify(Trusting("", wrong));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << wrong;
    EXPECT_NE(status.error_message().find("invalid bearer token"), std::string::npos) << status.error_message();
  }
  const auto anonymous = client::FoveaClient::Connect(server_->address(), Trusting());
  v1::ListModelsResponse models;
  EXPECT_EQ(anonymous->ListModels(&models).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::health::v1::HealthCheckResponse::ServingStatus serving{};
  ASSERT_TRUE(anonymous->CheckHealth("", &serving).ok()) << "health needs no token";
  EXPECT_EQ(serving, grpc::health::v1::HealthCheckResponse::SERVING);

  // Reflection is an RPC like the others: it needs the token too.
  grpc::SslCredentialsOptions trust_our_ca;
  trust_our_ca.pem_root_certs = ReadText(File("ca.pem"));
  const auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(
      grpc::CreateChannel(server_->address(), grpc::SslCredentials(trust_our_ca)));
  grpc::ClientContext context;
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest list;
  list.set_list_services("");
  stream->Write(list);
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse ignored;
  while (stream->Read(&ignored)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  const CommandResult cli_right = RunCli(
      {"models", "--server", server_->address(), "--tls-ca", File("ca.pem"), "--auth-token-file", File("token")});
  EXPECT_EQ(cli_right.exit_code, 0) << cli_right.err;
  const CommandResult cli_wrong = RunCli(
      {"models", "--server", server_->address(), "--tls-ca", File("ca.pem"), "--auth-token-file", File("wrong-token")});
  EXPECT_EQ(cli_wrong.exit_code, 1);
  EXPECT_NE(cli_wrong.err.find("UNAUTHENTICATED"), std::string::npos) << cli_wrong.err;
}

TEST_F(SecurityTest, ImpossibleCombinationsFailAtStartupNamingTheFlag) {
  const std::string repository = TestDataDir() + "/models";
  const auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {FOVEA_SERVER_BINARY, "--address", "127.0.0.1:0",        "--metrics-port", "0",
                                     "--http-port",       "0",         "--model-repository", repository};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  };
  const CommandResult token_in_plaintext = run({"--auth-token-file", File("token")});
  EXPECT_EQ(token_in_plaintext.exit_code, 1);
  EXPECT_NE(token_in_plaintext.err.find("--auth-token-file needs --tls-cert"), std::string::npos)
      << token_in_plaintext.err;
  const CommandResult cert_without_key = run({"--tls-cert", File("server.pem")});
  EXPECT_EQ(cert_without_key.exit_code, 1);
  EXPECT_NE(cert_without_key.err.find("--tls-cert and --tls-key"), std::string::npos) << cert_without_key.err;
  const CommandResult missing_file =
      run({"--tls-cert", File("server.pem"), "--tls-key", File("server.key"), "--auth-token-file", File("absent")});
  EXPECT_EQ(missing_file.exit_code, 1);
  EXPECT_NE(missing_file.err.find("--auth-token-file"), std::string::npos) << missing_file.err;
  const CommandResult not_pem = run({"--tls-cert", File("token"), "--tls-key", File("token")});
  EXPECT_EQ(not_pem.exit_code, 1);
  EXPECT_NE(not_pem.err.find("not a valid PEM pair"), std::string::npos) << not_pem.err;
  const CommandResult cli = RunCli({"models", "--auth-token-file", File("token")});
  EXPECT_EQ(cli.exit_code, 2);
  EXPECT_NE(cli.err.find("needs TLS"), std::string::npos) << cli.err;
}

}  // namespace
}  // namespace fovea::testing
