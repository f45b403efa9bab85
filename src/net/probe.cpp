#include "net/probe.hpp"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <iostream>

namespace opstream::net {
namespace beast = boost::beast;
namespace http = beast::http;

int RunProbe(const std::string& url, std::chrono::milliseconds timeout) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || parsed->scheme() != "http" || parsed->host().empty()) {
    std::cerr << "probe: expected an http:// URL, got '" << url << "'\n";
    return 1;
  }
  std::string host = parsed->host();
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const std::string port = parsed->has_port() ? std::string(parsed->port()) : "80";
  std::string target(parsed->encoded_target());
  if (target.empty()) target = "/";

  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  const auto endpoints = boost::asio::ip::tcp::resolver(io).resolve(host, port, ec);
  if (ec) {
    std::cerr << "probe: cannot resolve " << host << ": " << ec.message() << "\n";
    return 1;
  }
  stream.expires_after(timeout);
  http::response<http::string_body> response;
  bool done = false;
  stream.async_connect(endpoints, [&](beast::error_code connect_ec, const auto&) {
    if (connect_ec) {
      ec = connect_ec;
      return;
    }
    auto request = std::make_shared<http::request<http::empty_body>>(http::verb::get, target, 11);
    request->set(http::field::host, parsed->encoded_host_and_port());
    request->set(http::field::connection, "close");
    http::async_write(stream, *request, [&, request](beast::error_code write_ec, size_t) {
      if (write_ec) {
        ec = write_ec;
        return;
      }
      auto buffer = std::make_shared<beast::flat_buffer>();
      http::async_read(stream, *buffer, response, [&, buffer](beast::error_code read_ec, size_t) {
        ec = read_ec;
        done = !read_ec;
      });
    });
  });
  io.run();
  if (!done) {
    std::cerr << "probe: " << url << ": " << ec.message() << "\n";
    return 1;
  }
  const unsigned status = response.result_int();
  std::cout << status << " " << response.body() << "\n";
  return status >= 200 && status < 300 ? 0 : 1;
}

}  // namespace opstream::net
